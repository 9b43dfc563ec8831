"""Scheduled scoring (daily): rate every customer with the champion, write Parquet.

    python training/refresh.py --data data/export --out data/scores/latest.parquet \
                               [--as-of 2024-06-01]

Customers without history are ``unrated``; every row carries ``model_version``.
"""

import argparse
import json

from payer_model.jobs.scheduled import run_refresh

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="contract data folder")
    p.add_argument("--out", required=True, help="Parquet file for the ratings")
    p.add_argument("--as-of", help="cutoff date [the day after the last event]")
    p.add_argument("--config", help="training config [training/configs/train.yaml]")
    a = p.parse_args()
    print(json.dumps(run_refresh(a.data, out=a.out, as_of=a.as_of, config=a.config)))
