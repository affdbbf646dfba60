"""The exception workflow: what people did with an exception, kept apart from the pipeline.

The pipeline decides whether an exception exists (``recon.exceptions`` in the warehouse and
the serving snapshot: opened, resolved by data, reopened). People decide what to do about it:
acknowledge, assign, comment, snooze until a date, accept as expected with a reason. Those
actions live in the workflow store (``store.py``: SQLAlchemy, a SQLite file under
``REVOPS_HOME`` by default, any URL through ``REVOPS_WORKFLOW_DB``, schema by Alembic), each
one an append-only audit row. ``merge.py`` joins the two after every run: data that resolves
an exception closes it whatever people said; an accepted exception stays suppressed until its
amount or detail changes, then reopens with the change recorded.
"""
