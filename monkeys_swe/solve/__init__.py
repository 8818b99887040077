"""`monkeys-swe solve`: repeated patch sampling for one issue, verified in Docker.

The SWE-bench parts (retrieval, prompt, edits, localization, the task) live in
monkeys_swe/tasks/swebench/; this package is the command around them: orchestration (run.py:
instance -> Runner with SWEBenchTask -> selection -> solve.json), selection without hidden
tests (select.py: existing tests, then majority vote) and the live panel (panel.py).
"""
