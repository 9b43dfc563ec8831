# %% [markdown]
# # 07 — Monitoring: drift, segment mix, migration, alerts
# Compares the portfolio at two as-of dates with Evidently (feature, probability, rating and
# segment drift), builds the migration matrix with a reason per moved customer, and replays a
# drift scenario: the same portfolio generated with payment behaviour worsening from a date.

# %% tags=["parameters"]
N_CUSTOMERS = 300
MONTHS = 24
SEED = 3
REFERENCE = "2024-07-01"
CURRENT = "2024-10-01"
SHIFT_FROM = "2024-07-01"
POLICIES = "../serving/policies.yaml"

# %%
# %load_ext autoreload
# %autoreload 2
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import HTML

from payer_model.modelling import plots
from payer_model.config import load_config
from payer_model.data.generate import generate_dataset
from payer_model.jobs.monitor import monitor
from payer_model.modelling.fit import fit_and_evaluate
from payer_model.policy.policies import load_policies

cfg = load_config("../training/configs/train.yaml")
policies = load_policies(POLICIES)
stable = generate_dataset(N_CUSTOMERS, MONTHS, seed=SEED)
shifted = generate_dataset(N_CUSTOMERS, MONTHS, seed=SEED, shift_from=SHIFT_FROM)
model = fit_and_evaluate(stable, cfg).model  # trained on the stable history
workdir = Path(tempfile.mkdtemp())

# %% [markdown]
# ## No drift: the stable portfolio

# %%
calm = monitor(stable, REFERENCE, CURRENT, model, cfg, policies, workdir / "stable",
               workspace=workdir / "workspace")
print("alerts:", [a["type"] for a in calm["alerts"]] or "none")
pd.DataFrame(calm["rating_share"])

# %% [markdown]
# ## Drift scenario: behaviour worsens for ~30 % of customers from SHIFT_FROM

# %%
drift = monitor(shifted, REFERENCE, CURRENT, model, cfg, policies, workdir / "shifted",
                workspace=workdir / "workspace")
for a in drift["alerts"]:
    print(f"- {a['type']}: {a['message'][:160]}")
print("bad share of rated customers:", drift["bad_share_rated"])

# %%
matrix = pd.read_csv(workdir / "shifted" / "migration.csv", index_col=0)
fig = plots.heatmap(matrix, f"rating migration {REFERENCE} → {CURRENT} (customers)")

# %%
pd.read_csv(workdir / "shifted" / "movers.csv").head(10)

# %% [markdown]
# ## The Evidently report, inline

# %%
HTML((workdir / "shifted" / "report.html").read_text())

# %%
pd.read_csv(workdir / "shifted" / "kpis.csv").head(12)
