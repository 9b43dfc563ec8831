"""Scheduled retraining (monthly, or when new data lands).

    python training/retrain.py --data data/export [--config training/configs/train.yaml]
                               [--as-of 2024-06-01]

Trains a challenger on the newest window and promotes it only through the gate; the same
data and config reuse the earlier run (no new version). The MLflow store and the audit
database come from ``PAYER_TRACKING_URI`` / ``PAYER_AUDIT_DB``. Prints the decision as JSON.
"""

import argparse
import json

from payer_model.jobs.scheduled import run_retrain

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="contract data folder")
    p.add_argument("--config", help="training config [training/configs/train.yaml]")
    p.add_argument("--as-of", help="use only what was known before this date")
    a = p.parse_args()
    print(json.dumps(run_retrain(a.data, config=a.config, as_of=a.as_of), default=str))
