"""Environments for SWE-bench instances, offline: the spec table generated from swebench
4.1.0 (`generate.py` -> `specs_swebench_4_1_0.json`), requirements read from the repository
mirror (`reqs.py`), and the install script that resolves dependencies as of a date (`script.py`).
"""
