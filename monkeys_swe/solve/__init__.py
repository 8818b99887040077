"""`monkeys-swe solve`: repeated patch sampling for one issue, verified in Docker.

retrieval (BM25 context at the base commit) -> prompt -> any Sampler -> edits (SEARCH/REPLACE ->
unified diff) -> harness verification (tasks/swebench.py, in the runner's worker pool) ->
select (existing tests, then majority vote) -> panel / summary. `run.solve` ties them together.
"""
