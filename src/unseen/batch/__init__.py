"""`unseen batch`: many videos, one single-video job each, on local worker processes or a Ray cluster.

manifest.py  rows (one per video) from a folder, a CSV or a JSONL manifest
job.py       one row -> one call of the single-video job -> a RowResult (the only place that calls it)
summary.py   the summary CSV, appended as rows finish, read back to resume
local.py     local worker processes (one torch thread each), restarted when killed or over their memory limit
cluster.py   the same rows as Ray tasks (optional `ray` dependency)
runner.py    skip finished rows, dispatch, progress bar, summary, exit status
bench.py     videos per hour for a data set with 1, 2, ... workers
"""
