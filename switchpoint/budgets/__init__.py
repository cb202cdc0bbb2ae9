"""Budgets: the admission step between routing and execution.

Task budgets (tokens and/or USD across an agent's loop of calls) and virtual-key budgets
(USD per day, week, month or in total) are checked in memory: an estimate of the call
is reserved before dispatch and replaced by the actual cost when the call ends. The
ledger database is the system of record; spend is loaded from it and re-read every
sync interval, which is how several worker processes see each other's spend.
"""
