# %% [markdown]
# # 03 — Train and track in MLflow
# Trains the ordinal XGBoost model and both baselines (rule rating, persistence), evaluates
# them out of time, and logs everything to MLflow. By default this notebook uses a throw-away
# MLflow store so it never touches `mlflow/`; set `TRACKING_URI` to log to the project store.

# %% tags=["parameters"]
DATA = "../data/sample"
N_CUSTOMERS = 800
SEED = 0
TRACKING_URI = None  # e.g. "sqlite:///../mlflow/mlflow.db"

# %%
# %load_ext autoreload
# %autoreload 2
import tempfile

import pandas as pd

from payer_model.adapters import registry
from payer_model.data import datasets
from payer_model.modelling import plots
from payer_model.config import load_config
from payer_model.jobs.train import train
from payer_model.modelling.fit import fit_and_evaluate

uri = TRACKING_URI or f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
cfg = load_config("../training/configs/train.yaml")
tables, _ = datasets.load(DATA, N_CUSTOMERS, seed=SEED)

# %%
metrics = train(tables, cfg, tracking_uri=uri)
print(metrics["message"])
print("open the run:", registry.run_url(uri, metrics["run_id"], metrics["experiment_id"]))
print(f"(start the UI with: mlflow ui --backend-store-uri {uri})")

# %%
pd.DataFrame({name: {k: m[k] for k in ("macro_f1", "auc_bad", "log_loss", "brier", "ece")}
              for name, m in [("model", metrics["model"]),
                              ("rule", metrics["baselines"]["rule"]),
                              ("persistence", metrics["baselines"]["persistence"])]}).T

# %%
fig = plots.confusion(metrics)

# %% [markdown]
# ## Calibration (reliability per class) on the out-of-time window

# %%
fit = fit_and_evaluate(tables, cfg)
y = fit.test["label"].map({"good": 0, "average": 1, "bad": 2}).to_numpy()
fig = plots.reliability(y, {"XGBoost": fit.model.predict_proba(fit.test),
                             "rule": fit.rule.predict_proba(fit.test),
                             "persistence": fit.persistence.predict_proba(fit.test)})
