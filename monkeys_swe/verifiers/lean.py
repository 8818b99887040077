"""Lean 4 proof checking: the acceptance rules, the checker interface, and the HTTP adapter.

A proof is accepted only when (1) its text has none of the forbidden tokens below, (2) the
file (dataset header + the ORIGINAL statement + the proof + `#print axioms NAME`) checks with
no error, (3) Lean reports no `sorry`, and (4) the theorem depends on no axioms beyond Lean's
standard three. (4) catches what text rules miss (a `sorry` produced by a macro, an
`axiom` declared under another spelling, `native_decide` by another name).

`native_decide` is rejected: it runs compiled code and adds the axiom `Lean.ofReduceBool`,
which trusts the compiler and every `@[implemented_by]`/`@[extern]` instead of the kernel;
Mathlib forbids it and miniF2F results that allow it are not comparable to the paper's.

Checkers: `KiminaChecker` (HTTP, Kimina Lean Server's POST /verify) here, `LakeChecker`
(a local Lean project via `lake env lean`) in lean_local.py. Configure one with the task
settings lean_server / lean_project (`--task-arg`), or the environment read when the run starts:
MONKEYS_SWE_LEAN_SERVER=URL (+ MONKEYS_SWE_LEAN_API_KEY) or MONKEYS_SWE_LEAN_PROJECT=DIR
(+ MONKEYS_SWE_LEAN_IMAGE to run lake in a container). Which checker runs is infrastructure;
the time limit per proof changes verdicts, so it is the task setting `timeout_s` (default 300).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

STANDARD_AXIOMS = {"propext", "Classical.choice", "Quot.sound"}
FORBIDDEN = ("sorry", "admit", "axiom", "native_decide", "implemented_by", "extern", "ofReduceBool", "#exit")
_FORBIDDEN_RE = re.compile(r"(?<![\w.'])(" + "|".join(map(re.escape, FORBIDDEN)) + r")(?![\w'])")
_COMMENTS = re.compile(r"/-.*?-/|--[^\n]*", re.DOTALL)
_AXIOMS = re.compile(r"depends on axioms: \[([^\]]*)\]")
NO_CHECKER = ("no Lean checker configured: set MONKEYS_SWE_LEAN_SERVER=URL (a Kimina Lean Server) or "
              "MONKEYS_SWE_LEAN_PROJECT=DIR (a Lean 4 project with Mathlib, checked with `lake env lean`)")


def forbidden_tokens(proof: str) -> list[str]:
    """Forbidden words in the proof, outside comments (`decide` alone is fine: the kernel checks it)."""
    return sorted(set(_FORBIDDEN_RE.findall(_COMMENTS.sub(" ", proof))))


@dataclass
class LeanMessage:
    severity: str  # error | warning | info
    text: str
    line: int = 0
    column: int = 0


@dataclass
class LeanResult:
    """What a checker saw. `error` is set when the check itself could not be done (not a verdict
    on the proof); `timed_out` when Lean ran out of time (a failed proof)."""

    messages: list[LeanMessage] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    seconds: float = 0.0


class LeanChecker(Protocol):
    name: str

    def check(self, code: str, timeout_s: float) -> LeanResult: ...


def judge(result: LeanResult, theorem: str) -> tuple[bool | None, str, dict[str, Any]]:
    """(accepted, status, detail); accepted is None when the checker could not decide."""
    detail: dict[str, Any] = {"seconds": round(result.seconds, 2)}
    if result.timed_out:
        return False, "timeout", detail
    if result.error:
        return None, "error", {**detail, "error": result.error}
    errors = [m for m in result.messages if m.severity == "error"]
    if errors:
        return False, "lean_error", {**detail, "errors": [f"{m.line}:{m.column}: {m.text}"[:500] for m in errors[:5]]}
    if any("declaration uses 'sorry'" in m.text for m in result.messages):
        return False, "sorry", detail
    text = "\n".join(m.text for m in result.messages)
    if f"'{theorem}' does not depend on any axioms" in text:
        return True, "correct", {**detail, "axioms": []}
    found = _AXIOMS.search(text)
    if found is None:
        return None, "error", {**detail, "error": f"Lean gave no `#print axioms {theorem}` answer; cannot confirm the proof"}
    axioms = [a.strip() for a in found.group(1).split(",") if a.strip()]
    extra = sorted(set(axioms) - STANDARD_AXIOMS)
    if extra:
        return False, "nonstandard_axioms", {**detail, "axioms": axioms, "rejected": extra}
    return True, "correct", {**detail, "axioms": axioms}


class KiminaChecker:
    """Kimina Lean Server (github.com/project-numina/kimina-lean-server): POST /verify with
    {"codes": [{"custom_id", "proof"}], "timeout", "infotree_type", "disable_cache"}; answer
    {"results": [{"custom_id", "error", "response": {"messages": [...], "sorries": [...], "time"}}]}."""

    name = "kimina"

    def __init__(self, url: str, api_key: str | None = None, client: httpx.Client | None = None):
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(headers=headers, timeout=None)

    def check(self, code: str, timeout_s: float) -> LeanResult:
        body = {"codes": [{"custom_id": "0", "proof": code}], "timeout": int(timeout_s),
                "infotree_type": None, "disable_cache": False}
        try:
            resp = self.client.post(f"{self.url}/verify", json=body, timeout=timeout_s + 60)
            resp.raise_for_status()
            result = resp.json()["results"][0]
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            return LeanResult(error=f"Lean server {self.url}: {type(exc).__name__}: {exc}"[:500])
        response = result.get("response") or {}
        seconds = float(response.get("time") or 0.0)
        if result.get("error"):
            timed_out = "timed out" in result["error"] or "timeout" in result["error"].lower()
            return LeanResult(error=None if timed_out else result["error"], timed_out=timed_out, seconds=seconds)
        if "message" in response and "messages" not in response:  # the REPL refused the command
            return LeanResult(error=f"Lean REPL: {response['message']}"[:500], seconds=seconds)
        messages = [LeanMessage(m.get("severity", "error"), m.get("data", ""), (m.get("pos") or {}).get("line", 0),
                                (m.get("pos") or {}).get("column", 0)) for m in response.get("messages") or []]
        if response.get("sorries"):
            messages.append(LeanMessage("warning", "declaration uses 'sorry'"))
        return LeanResult(messages, seconds=seconds)


def make_checker(server: str | None = None, api_key: str | None = None, project: str | None = None,
                 image: str | None = None, lake: str = "lake") -> LeanChecker | None:
    """The checker these settings name (a Kimina server, else a lake project), or None."""
    if server:
        return KiminaChecker(server, api_key)
    if project:
        from monkeys_swe.verifiers.lean_local import LakeChecker

        return LakeChecker(project, image=image, lake=lake)
    return None
