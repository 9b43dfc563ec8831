# %% [markdown]
# # 01 — Explore the data
# Contract validation summary, payment-delay distributions (the two clocks), aging, and the
# portfolio by industry and terms. All logic lives in `payer_model`; this notebook only calls it.

# %% tags=["parameters"]
DATA = "../data/sample"
N_CUSTOMERS = 600  # None = the whole portfolio
SEED = 0

# %%
# %load_ext autoreload
# %autoreload 2
import pandas as pd

from payer_model.data import datasets
from payer_model.modelling import plots
from payer_model.features import build_features
from payer_model.features.labels import data_range

# %% [markdown]
# ## Contract validation
# Every row that breaks a rule is quarantined with a reason; nothing is dropped silently.

# %%
tables, report = datasets.load(DATA, N_CUSTOMERS, seed=SEED)
pd.DataFrame({"rows in": report.rows_in, "accepted": report.rows_out,
              "quarantined": report.quarantined})

# %%
pd.Series(report.reasons, dtype="int64").rename("rows").to_frame()

# %% [markdown]
# ## Two clocks: days beyond terms vs days to pay

# %%
fig = plots.payment_clocks(tables["invoices"])

# %% [markdown]
# ## Aging of the open balance at the end of the data

# %%
start, end = data_range(tables["invoices"])
feats = build_features(tables["invoices"], end, customers=tables["customers"],
                       payments=tables["payments"], reminders=tables["reminders"])
print(f"data from {start.date()} to {end.date()} (exclusive); {len(feats)} customers")
fig = plots.aging(feats)

# %% [markdown]
# ## Customers by industry and payment terms

# %%
tables["customers"].groupby("industry")["payment_terms_days"].describe()[["count", "mean", "50%"]]

# %%
fig = plots.rating_mix(tables["customers"], column="industry")
