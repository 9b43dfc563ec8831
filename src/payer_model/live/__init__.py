"""The live portfolio (DESIGN §11): typed ledger events and the rows they fold into.

Validation of events, incremental rescoring, risk-change alerts and the outbox. Pure: the
store, the delivery and the jobs that compose them live in ``adapters`` and ``jobs``.
"""
