# %% [markdown]
# # 04 — Tune with Optuna, one nested MLflow run per trial
# The objective is the validation log loss on the time-later validation cutoff; the test
# window is never seen by the search. The study lives in RDB storage and resumes.

# %% tags=["parameters"]
DATA = "../data/sample"
N_CUSTOMERS = 500
SEED = 0
TRIALS = 4
TRACKING_URI = None

# %%
# %load_ext autoreload
# %autoreload 2
import tempfile
from pathlib import Path

import mlflow
import optuna

from payer_model.data import datasets
from payer_model.config import load_config
from payer_model.jobs.tune import tune

workdir = Path(tempfile.mkdtemp())
uri = TRACKING_URI or f"sqlite:///{workdir}/mlflow.db"
tables, _ = datasets.load(DATA, N_CUSTOMERS, seed=SEED)
cfg = load_config("../training/configs/train.yaml")
result = tune(tables, cfg, n_trials=TRIALS, tracking_uri=uri,
              out_config=workdir / "tuned.yaml")
result

# %%
mlflow.set_tracking_uri(uri)
children = mlflow.search_runs(search_all_experiments=True,
                              filter_string=f"tags.mlflow.parentRunId = '{result['parent_run_id']}'")
children[[c for c in children.columns if c.startswith(("params.", "metrics."))]].head()

# %%
study = optuna.load_study(study_name=result["study_name"], storage=result["storage"])
ax = optuna.visualization.matplotlib.plot_optimization_history(study)

# %%
load_config(result["out_config"]).model.params
