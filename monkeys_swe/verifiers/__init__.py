"""Verifiers shared by tasks: sandboxed program execution (programs.py) and Lean 4 proof checking (lean.py)."""
