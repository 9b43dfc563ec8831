"""Scheduled drift monitoring (monthly): the champion's portfolio at two dates compared.

    python training/monitor.py --data data/export --reference 2024-05-01 \
                               --current 2024-06-01 --out reports/2024-06

Writes the Evidently reports, migration, KPIs, ``alerts.jsonl`` and ``summary.json`` into
``--out``; exits 1 when an alert fired, so the scheduler can flag the run.
"""

import argparse
import json
import sys

from payer_model.jobs.scheduled import run_monitor

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="contract data folder")
    p.add_argument("--reference", required=True, help="reference as-of date")
    p.add_argument("--current", required=True, help="current as-of date")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--config", help="training config [training/configs/train.yaml]")
    p.add_argument("--monitor-config", help="thresholds [training/configs/monitor.yaml]")
    a = p.parse_args()
    summary = run_monitor(
        a.data,
        reference=a.reference,
        current=a.current,
        out=a.out,
        config=a.config,
        monitor_config=a.monitor_config,
    )
    print(json.dumps({"alerts": len(summary["alerts"]), "files": summary["files"]}))
    sys.exit(1 if summary["alerts"] else 0)
