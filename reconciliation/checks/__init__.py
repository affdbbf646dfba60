"""One module per reconciliation check; each defines ``CHECK`` (see ``catalog.py``)."""
