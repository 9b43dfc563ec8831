# %% [markdown]
# # 08 — Invoice-level predictions
# P(late) and expected payment date for every open invoice, out of time against the two
# naive baselines (customer's past late share; due date + customer's mean days late), the
# calibration of P(late), and the 13-week cash forecast against what actually came in.

# %% tags=["parameters"]
DATA = "../data/sample"
N_CUSTOMERS = 600
SEED = 0

# %%
# %load_ext autoreload
# %autoreload 2
import pandas as pd

from payer_model.config import load_config
from payer_model.data import datasets
from payer_model.modelling.forecast import backtest_forecast
from payer_model.modelling.invoice_card import forecast_figure, reliability_figure
from payer_model.modelling.invoice_fit import (
    customer_mean_date,
    fit_invoice_model,
    late_share_baseline,
)

cfg = load_config("../training/configs/train.yaml")
tables, _ = datasets.load(DATA, N_CUSTOMERS, seed=SEED)
fit = fit_invoice_model(tables, cfg)
m = fit.metrics
pd.DataFrame(
    {
        "model": {**m["model"]["late"], "mae_days": m["model"]["date"]["mae_days"]},
        "baseline": {
            **m["baselines"]["late_share"]["late"],
            "mae_days": m["baselines"]["customer_mean"]["date"]["mae_days"],
        },
    }
).round(3)

# %% [markdown]
# ## Backtest by band: what Low / Medium / High meant out of time

# %%
pd.DataFrame(m["bands"])

# %% [markdown]
# ## Calibration of P(late) (test cutoffs)

# %%
known = fit.test["late"].notna()
y = fit.test.loc[known, "late"].to_numpy()
p_model = fit.model.predict_late(fit.test.loc[known])[0]
p_base = late_share_baseline(fit.test.loc[known], cfg.invoice.late_tolerance_days, y.mean())
fig = reliability_figure(y, {"model": p_model, "customer late share": p_base})

# %% [markdown]
# ## Pay date: 80 % interval coverage and errors

# %%
m["model"]["date"]

# %% [markdown]
# ## 13-week cash forecast vs actual collections (the book open at each test cutoff)

# %%
mean_late = float(pd.concat([fit.train, fit.val])["days_late"].mean())
bt = backtest_forecast(fit.model, fit.test, customer_mean_date(fit.test, mean_late))
pd.DataFrame(bt["per_as_of"]).round(3)

# %%
weekly = bt["weekly"]
fig = forecast_figure(weekly[weekly["as_of"] == weekly["as_of"].min()], "forecast vs actual")
