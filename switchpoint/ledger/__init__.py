"""The ledger: the system of record for calls, attempts, task outcomes and virtual keys.

`database.py` speaks to SQLite or PostgreSQL with one schema (`migrations.py`);
`writer.py` writes call records in batches on its own thread; `listener.py` feeds it
from the event bus; `store.py` answers the reads and admin writes; `reports.py` builds
the cost-per-completed-outcome report.
"""
