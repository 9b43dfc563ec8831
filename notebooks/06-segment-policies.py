# %% [markdown]
# # 06 — Segments and collection policies
# Segments come from the versioned policy file (first matching rule wins); each has a tone,
# a contact sequence, escalation, incentives and a credit action. We show the policy table,
# the segment mix, a policy replay on history (reminder volume, useless reminders, cash), and
# the collector worklist.

# %% tags=["parameters"]
DATA = "../data/sample"
POLICIES = "../serving/policies.yaml"
N_CUSTOMERS = 400
SEED = 0
SIM_FROM = "2024-09-01"
SIM_TO = "2024-11-01"
UPLIFT_CUSTOMERS = 1500  # the randomised chasing experiment (generate --uplift), in memory

# %%
# %load_ext autoreload
# %autoreload 2
import pandas as pd

from payer_model.data import datasets
from payer_model.modelling import plots
from payer_model.config import TrainConfig
from payer_model.features.labels import data_range
from payer_model.jobs.score import rated_portfolio
from payer_model.modelling.fit import fit_and_evaluate
from payer_model.policy.policies import load_policies
from payer_model.policy.segment import decide_all
from payer_model.policy.simulate import simulate_policy
from payer_model.policy.worklist import rank_worklist

cfg = TrainConfig()
policies = load_policies(POLICIES)
tables, _ = datasets.load(DATA, N_CUSTOMERS, seed=SEED)
fit = fit_and_evaluate(tables, cfg)
print("policy version", policies.policy_version)

# %%
pd.DataFrame([{"segment": s.name, "tone": s.policy.tone,
               "sequence": ", ".join(f"{st.channel} {st.offset_days:+d}"
                                     for st in s.policy.sequence),
               "credit": s.policy.credit.action} for s in policies.segments])

# %%
_, end = data_range(tables["invoices"])
rated = rated_portfolio(tables, end, fit.model, cfg)
decided = decide_all(tables, rated, end, policies)
decisions = pd.DataFrame([d.model_dump() for d in decided])
fig = plots.rating_mix(decisions, column="segment")

# %% [markdown]
# ## Policy replay vs a one-size-fits-all schedule

# %%
sim = simulate_policy(tables, SIM_FROM, SIM_TO, policies,
                      lambda t, as_of: rated_portfolio(t, as_of, fit.model, cfg))
pd.DataFrame(sim["segments"])

# %%
print(sim["note"])

# %% [markdown]
# ## Worklist: highest expected loss first

# %%
# the same ranking as `payer-model worklist` and the monitoring page
rank_worklist(decided, end).head(10)

# %% [markdown]
# ## Learned chasing, evaluated off-policy
# A randomised logging policy (`payer-model generate --uplift`) tried no reminder or one
# channel x timing per invoice with known propensities. An X-learner on XGBoost estimates
# each action's uplift in P(paid within 14 days); the learned policy sends the action with
# the best uplift per unit of cost, or nothing. IPS / doubly robust estimates with 90 %
# bootstrap intervals compare it with the fixed playbook and the baseline on later decisions
# (`payer-model policy evaluate DIR --from D1 --to D2` prints the same). Causal only under the
# logged randomisation (see the model card).

# %%
from payer_model.data.contract import validate_frames
from payer_model.data.generate import generate_dataset
from payer_model.jobs.chase import evaluate_chasing

exp = generate_dataset(UPLIFT_CUSTOMERS, 20, seed=SEED, uplift=True)
exp_tables = validate_frames(
    {k: exp[k] for k in ("customers", "invoices", "payments", "reminders")}
).tables
ev = evaluate_chasing(
    exp_tables,
    exp["chase_log"],
    "2024-02-01",
    "2024-07-01",
    cfg,
    policies,
    truth=exp["truth"],
    chase_truth=exp["chase_truth"],
    n_boot=100,
)
rows = []
for scope, part in [("all", ev["all"]), *ev["segments"].items()]:
    for name, m in part["policies"].items():
        rows.append(
            {
                "segment": scope,
                "policy": name,
                "reminders": m["reminders"]["ips"]["value"],
                "useless rate": m["useless_rate"]["ips"]["value"],
                "P(paid 14d) DR": m["paid_14"]["dr"]["value"],
                "cash 30d DR": m["cash_30"]["dr"]["value"],
            }
        )
pd.DataFrame(rows).round(3)

# %%
# recovered channel effects (mean predicted uplift per archetype) vs the generator's truth
pd.DataFrame(ev["truth_check"]["channels"]).query("checked").round(3)
