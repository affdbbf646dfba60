"""`make bench`: the pipeline timed stage by stage, and peers run on the same data."""
