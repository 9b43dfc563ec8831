# %% [markdown]
# # 02 — Features and labels as of a date
# Features are computed **as of T**: an invoice paid on or after T is open at T. Labels look
# forward over the next 90 days (+30 days grace). We show one customer's features on a
# timeline, the label mix by month, and a leakage check.

# %% tags=["parameters"]
DATA = "../data/sample"
N_CUSTOMERS = 500
SEED = 0

# %%
# %load_ext autoreload
# %autoreload 2
import pandas as pd

from payer_model.data import datasets
from payer_model.modelling import plots
from payer_model.config import load_config
from payer_model.features.leakage import future_invariance_check
from payer_model.features.labels import data_range, plan_cutoffs
from payer_model.modelling.snapshots import build_snapshots, class_balance

cfg = load_config("../training/configs/train.yaml")
tables, _ = datasets.load(DATA, N_CUSTOMERS, seed=SEED)
start, end = data_range(tables["invoices"])
plan = plan_cutoffs(start, end, cfg.labels, cfg.split)
plan.to_dict()

# %%
snap = build_snapshots(tables, plan.all, cfg)
snap[["customer_id", "as_of", "paid_n", "wmean_days_late_12m", "overdue_amt", "rule_rating",
      "prev_label", "label"]].head()

# %% [markdown]
# ## One customer on a timeline

# %%
who = snap.groupby("customer_id")["label"].nunique().idxmax()  # a customer whose label moves
fig = plots.customer_timeline(snap, who)
snap.loc[snap["customer_id"] == who, ["as_of", "label", "label_mean_days_late"]]

# %% [markdown]
# ## Label definition and class balance by month
# good: amount-weighted mean days late ≤ 5 and none > 30 · bad: mean > 30, ≥ 20 % unpaid
# 60+ days past due at T+120, or a write-off · average otherwise.

# %%
print(cfg.labels.model_dump())
class_balance(snap)

# %%
fig = plots.class_balance(snap.dropna(subset=["label"]))

# %% [markdown]
# ## Leakage check
# Move every payment dated on or after T, pay every invoice open at T, and add new invoices
# after T: the features at T must not change.

# %%
T = plan.test[0]
ok = future_invariance_check(tables["invoices"], T, customers=tables["customers"])
print(f"features at {T.date()} unchanged by future events: {ok}")
assert ok
