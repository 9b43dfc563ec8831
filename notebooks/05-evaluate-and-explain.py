# %% [markdown]
# # 05 — Evaluate and explain
# Backtest by predicted rating, reason codes for chosen customers, and error analysis by
# segment and industry — all out of time.

# %% tags=["parameters"]
DATA = "../data/sample"
N_CUSTOMERS = 800
SEED = 0

# %%
# %load_ext autoreload
# %autoreload 2
import json

import pandas as pd

from payer_model.data import datasets
from payer_model.modelling import plots
from payer_model.config import load_config
from payer_model.features.labels import data_range
from payer_model.jobs.score import score
from payer_model.modelling.fit import fit_and_evaluate

cfg = load_config("../training/configs/train.yaml")
tables, _ = datasets.load(DATA, N_CUSTOMERS, seed=SEED)
fit = fit_and_evaluate(tables, cfg)
pd.DataFrame(fit.metrics["backtest"]["by_rating"])

# %%
fig = plots.backtest(fit.metrics["backtest"])

# %% [markdown]
# ## Reason codes for a few customers (as of the end of the data)

# %%
_, end = data_range(tables["invoices"])
ratings = score(tables, end, fit.model, cfg)
chosen = ratings[ratings["rating"] != "unrated"].groupby("rating").head(1)
for _, row in chosen.iterrows():
    print(f"{row['customer_id']}: {row['rating']} (P bad {row['p_bad']:.2f})")
    for r in json.loads(row["reasons"]):
        print(f"   {r['code']}: {r['text']}")

# %% [markdown]
# ## Error analysis by industry and customer type (test window)

# %%
test = fit.test.assign(predicted=fit.model.predict_rating(fit.test))
test["correct"] = test["predicted"] == test["label"]
test.groupby("industry")["correct"].agg(["mean", "size"]).sort_values("mean")

# %%
test.groupby("customer_type")["correct"].agg(["mean", "size"])

# %%
pd.crosstab(test["label"], test["predicted"], normalize="index").round(2)
