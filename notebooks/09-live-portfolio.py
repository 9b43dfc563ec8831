# %% [markdown]
# # 09 — Live portfolio: a month of events, ratings moving, alerts firing
# Replays a month of ledger events (invoices, payments, reminders, disputes) day by day into
# the live ledger (SQLite in a temp folder), the way `payer-model ingest` and the daily
# `payer-model refresh` do: each day's events rescore only the customers they touch, the
# daily refresh ages every open invoice, and a change of rating or segment raises one alert.
# The portfolio is generated with payment behaviour worsening for some customers from
# SHIFT_FROM, so ratings move while the month is replayed.

# %% tags=["parameters"]
N_CUSTOMERS = 80
MONTHS = 18
SEED = 4
SHIFT_FROM = "2024-02-01"
START = "2024-05-01"
DAYS = 28
POLICIES = "../serving/policies.yaml"

# %%
import random
import tempfile
from datetime import date, timedelta
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from payer_model.adapters import ledger_work as work
from payer_model.adapters.ledger import LedgerStore
from payer_model.config import load_config
from payer_model.data.contract import validate_frames
from payer_model.data.generate import generate_dataset
from payer_model.features import compute
from payer_model.jobs.live import LiveLoop
from payer_model.live.convert import events_from_tables
from payer_model.live.events import parse_event
from payer_model.live.rescore import Scorer
from payer_model.modelling.baselines import rule_rating
from payer_model.modelling.fit import new_model
from payer_model.policy.policies import load_policies

cfg = load_config("../training/configs/train.yaml")
tables = validate_frames(
    generate_dataset(N_CUSTOMERS, MONTHS, seed=SEED, shift_from=SHIFT_FROM)
).tables
start = date.fromisoformat(START)

# %% [markdown]
# A small model for the replay (fitted on rule labels before START, in seconds). In
# production the loop scores with the registered champion: `jobs.live.open_loop()`.

# %%
cuts = [(pd.Timestamp(start) - pd.DateOffset(months=m)).date() for m in (4, 2)]
feats = pd.concat([compute(tables, c, cfg) for c in cuts], ignore_index=True)
key = rule_rating(feats, cfg.labels)
keep = key.notna().to_numpy()
y = key[keep].map({"good": 0, "average": 1, "bad": 2}).to_numpy(dtype=np.int64)
cfg.model.num_boost_round = 40
model = new_model(cfg).fit(feats[keep].reset_index(drop=True), y)

store = LedgerStore(f"sqlite:///{Path(tempfile.mkdtemp()) / 'ledger.db'}")
loop = LiveLoop(store, Scorer(model, "replay", cfg, load_policies(POLICIES)), p_bad_step=0.15)

# %% [markdown]
# ## The history before START, then one day at a time (events in shuffled order)
# Each day's events rescore the customers they touch; the weekly refresh (daily in
# production) ages every open invoice.

# %%
raw = events_from_tables(tables)
day_of = {e["event_id"]: parse_event(e)[0].day for e in raw}
before = [e for e in raw if day_of[e["event_id"]] < start]
print(loop.ingest(before, as_of=start)["rescored"], "customers rated as of", start)

rng = random.Random(SEED)
daily = []
for k in range(DAYS):
    day = start + timedelta(days=k)
    todays = [e for e in raw if day_of[e["event_id"]] == day]
    rng.shuffle(todays)
    got = loop.ingest(todays, as_of=day + timedelta(days=1)) if todays else {"alerts": 0}
    ref = loop.refresh(day + timedelta(days=1)) if day.weekday() == 0 else {"alerts": 0}
    ratings = pd.Series([s["rating"] for s in work.load_states(store).values()]).value_counts()
    daily.append(
        {
            "day": day,
            "events": len(todays),
            "alerts": got["alerts"] + ref["alerts"],
            **ratings.to_dict(),
        }
    )
daily = pd.DataFrame(daily).fillna(0).set_index("day")
daily.tail()

# %%
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
cols = [c for c in ("good", "average", "bad", "unrated") if c in daily]
daily[cols].plot.area(ax=ax1, color=["#2e7d32", "#f9a825", "#c62828", "#9e9e9e"][: len(cols)])
ax1.set_ylabel("customers")
ax1.set_title("ratings as the ledger moves")
ax2.bar(daily.index, daily["alerts"], color="#c62828")
ax2.set_ylabel("alerts")
ax2.set_title("risk-change alerts per day")
fig.tight_layout()

# %% [markdown]
# ## The alerts: one row per alert, the customers behind them as movers

# %%
alerts = pd.DataFrame(
    [
        {
            "as_of": a["as_of"],
            "customer": a["customer_id"],
            "what": a["kinds"],
            "before": f"{a['before']['rating']} / {a['before']['segment']}",
            "after": f"{a['after']['rating']} / {a['after']['segment']}",
            "events": len(a["event_ids"]),
            "reason": (a["reasons"] or [""])[0],
        }
        for a in work.list_alerts(store)
    ]
)
alerts.head(15)

# %%
if len(alerts):
    movers = alerts.groupby(["before", "after"]).size().rename("customers").reset_index()
    display(movers.sort_values("customers", ascending=False))

# %% [markdown]
# ## Today's outbox: the messages due, rendered with the policy templates

# %%
out = pd.DataFrame(work.list_messages(store, status="pending"))
print(len(out), "pending messages")
if len(out):
    print(out.iloc[0]["text"])
