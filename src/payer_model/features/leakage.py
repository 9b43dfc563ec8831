"""Leakage checks: what happens on or after T must never change what is known at T."""

from __future__ import annotations

from datetime import date

import pandas as pd

from payer_model.features.dispatch import build_features


def perturb_future(
    invoices: pd.DataFrame, as_of: date | str, shift_days: int = 17
) -> pd.DataFrame:
    """Invoices with every event dated on or after ``as_of`` moved or added.

    Later payments move by ``shift_days``, invoices open at T get paid after T, write-offs
    and disputes after T move, and one new invoice per customer appears after T.
    """
    t = pd.Timestamp(as_of).normalize()
    out = invoices.copy()
    shift = pd.Timedelta(days=shift_days)
    for col in ("paid_date", "written_off_date", "dispute_date"):
        if col in out:
            dates = pd.to_datetime(out[col])
            out[col] = dates.where(dates < t, dates + shift)
    open_at_t = pd.to_datetime(out["paid_date"]).isna() & (pd.to_datetime(out["invoice_date"]) < t)
    out.loc[open_at_t, "paid_date"] = t + shift
    firsts = out.drop_duplicates("customer_id")[["customer_id"]].copy()
    new = firsts.assign(
        invoice_id=[f"future-{i}" for i in range(len(firsts))],
        invoice_date=t + shift,
        due_date=t + shift + pd.Timedelta(days=30),
        amount=123.0,
    )
    return pd.concat([out, new], ignore_index=True)


def future_invariance_check(invoices: pd.DataFrame, as_of: date | str, **kwargs) -> bool:
    """True when the features at ``as_of`` are identical with the future perturbed."""
    before = build_features(invoices, as_of, **kwargs)
    after = build_features(perturb_future(invoices, as_of), as_of, **kwargs)
    try:
        pd.testing.assert_frame_equal(before, after)
    except AssertionError:
        return False
    return True
