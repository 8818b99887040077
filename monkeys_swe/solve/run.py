"""`solve`, as a function: one issue, many sampled patches, each verified in Docker, one chosen.

It is the core loop (Runner + store + sampler) with SWEBenchTask; this module only picks the
instance (a SWE-bench row, or a snapshot of the user's repository), names a resumable run
directory, builds the image before sampling starts, and afterwards selects, scores and saves.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.instance import DEFAULT_DATASET, DataError, SWEInstance, load_instances
from monkeys_swe.config import RunConfig, parse_config
from monkeys_swe.errors import UserError
from monkeys_swe.runlock import write_lock
from monkeys_swe.cost import dollars_for_tokens
from monkeys_swe.store import Store

LLAMACPP_CTX = 4096  # LlamaCppSampler's window


@dataclass
class SolveRequest:
    instance_id: str | None = None
    data: str | None = None
    repo_mirror: str | None = None
    repo: str | None = None
    issue: str | None = None
    test_cmd: str | None = None
    install: tuple[str, ...] = ()
    commit: str = "HEAD"
    samples: int = 10
    run: dict[str, Any] = field(default_factory=dict)  # RunConfig fields: backend, model, temperature...
    context_tokens: int | None = None
    localize: bool = False
    stop_on_success: bool = False
    regression: bool = True
    verify_workers: int = 2
    timeout_s: float = 1800.0
    base_image: str | None = None
    mode: str = "oneshot"  # "agent": each attempt is a multi-step agent trajectory in its own sandbox
    agent_steps: int = 30
    command_timeout_s: float = 60.0
    tests: int = 0  # model-written reproduction tests to sample (solve/repro.py)
    select: str | None = None  # "tests" or "vote" (solve/stages.py); default: "tests" when tests > 0
    judge: bool = False  # a final LLM judge among the finalists (solve/judge.py)
    verdict_cache: str | None = None  # SQLite verdict cache (harness.verdict_cache) for every Docker run; None: off

    @property
    def selector(self) -> str:
        return self.select or ("tests" if self.tests else "vote")

    @property
    def model_oracle(self) -> bool:
        """--repo without --test: the reproducing model-written tests judge the candidates."""
        return bool(self.repo) and not self.test_cmd and self.tests > 0


@dataclass
class SolveResult:
    run_dir: Path
    instance: SWEInstance
    summary: dict[str, Any]
    patch: str  # the chosen patch ("" when nothing could be chosen)


def load_instance(req: SolveRequest) -> SWEInstance:
    """The SWE-bench row, or the user's repository at --commit; bad input -> one-line UserError."""
    if req.repo:
        if req.instance_id:
            raise UserError("give an INSTANCE_ID or --repo PATH, not both")
        if not req.test_cmd and req.tests < 1:
            raise UserError("--repo needs --test CMD (the test command whose success means fixed), "
                            "or --tests N (model-written reproduction tests judge the candidates)")
        if not req.issue:
            raise UserError("--repo needs --issue FILE_OR_TEXT (what is wrong)")
        repo = Path(req.repo).expanduser()
        if not repo.is_dir():
            raise UserError(f"--repo {req.repo}: no such directory")
        issue_path = Path(req.issue).expanduser()
        if not issue_path.is_file() and re.fullmatch(r"\S+\.(md|txt|rst)", req.issue.strip()):
            raise UserError(f"--issue {req.issue}: no such file (give the issue as a file or as text)")
        try:
            issue = issue_path.read_text(encoding="utf-8") if issue_path.is_file() else req.issue
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--issue {req.issue}: cannot read it ({exc})") from None
        if not issue.strip():
            raise UserError(f"--issue {req.issue}: the issue is empty; say what is wrong (a file or text)")
        try:
            return SWEInstance.from_local_repo(repo, req.test_cmd, install=req.install, commit=req.commit,
                                               problem_statement=issue)
        except DataError as exc:
            raise UserError(str(exc)) from None
    if not req.instance_id:
        raise UserError("give a SWE-bench INSTANCE_ID, or --repo PATH with --issue and --test")
    data = req.data or DEFAULT_DATASET
    if req.data and (re.search(r"\.(jsonl?|gz|parquet)$", req.data) or "/" in req.data[:1] + req.data[-1:]
                     or req.data.startswith((".", "~"))) and not Path(req.data).expanduser().exists():
        raise UserError(f"data file not found: {req.data}")
    try:
        return load_instances(data, ids=[req.instance_id])[0]
    except DataError as exc:
        raise UserError(str(exc)) from None


_OWN_REASONS = {2: "interrupted, e.g. by errors while collecting the tests", 4: "a usage error, e.g. no such test file",
                5: "no tests collected", 126: "the command is not executable", 127: "command not found"}


def base_run_warning(verifier: Any, test_cmd: str, warn: Callable[[str], None]) -> None:
    """Say so when `test_cmd`, run at the base commit without any patch (the image's validation run),
    fails for its own reasons (no such file, nothing collected, command not found): no candidate can
    pass it then. Also when it passes already: it cannot tell a fix from no fix."""
    health = verifier.health()
    try:
        log = Path(health.log_path).read_text(encoding="utf-8", errors="replace") if health.log_path else ""
    except OSError:
        log = ""
    found = re.search(r">>>>> Test Exit Code: (-?\d+)", log)
    code = int(found.group(1)) if found else None
    if code in _OWN_REASONS or not health.healthy:
        why = f"exit {code}: {_OWN_REASONS[code]}" if code in _OWN_REASONS else health.reason
        warn(f"`{test_cmd}` fails at the base commit for its own reasons ({why}; log {health.log_path}): "
             f"no candidate can pass it")
    elif code == 0:
        warn(f"`{test_cmd}` passes at the base commit already: it cannot tell a fix from no change")


def dirty_files(repo: str | Path) -> list[str]:
    """Uncommitted changes of the user's working tree (solve snapshots a commit, so they are left out)."""
    import subprocess

    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=Path(repo).expanduser(),
                         capture_output=True, text=True)
    return [line[3:] for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def default_context_tokens(backend: str, max_tokens: int) -> int:
    """What fits: the embedded model has a 4096-token window; served models get 8000 tokens of code."""
    if backend == "llamacpp":
        return max(300, int((LLAMACPP_CTX - max_tokens) * 0.7) - 450)
    return 8000


def run_dir_root(req: SolveRequest, inst: SWEInstance, context_tokens: int) -> Path:
    """runs/solve/<instance>-<digest>: the instance and the prompt-shaping options that RunConfig
    does not carry, so rerunning the same command resumes, and changing them starts afresh."""
    key = {"instance": inst.instance_id, "commit": inst.base_commit, "context_tokens": context_tokens,
           "localize": req.localize, "regression": req.regression, "test_cmd": inst.test_cmd,
           "install": inst.install, "issue": hashlib.sha256(inst.problem_statement.encode()).hexdigest()}
    if req.model_oracle:  # the verdicts depend on which tests were written
        key.update(oracle="model-written reproduction tests", tests=req.tests)
    if req.mode != "oneshot":  # keep one-shot and agent runs of the same options apart
        key.update(mode=req.mode, agent_steps=req.agent_steps, command_timeout_s=req.command_timeout_s)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", inst.instance_id)[:80]
    return Path(req.run.get("runs_dir") or "runs") / "solve" / f"{slug}-{digest}"


def summarize(store: Store, pid: str, selection, extra: dict[str, Any]) -> dict[str, Any]:
    from monkeys_swe.metrics import pass_at_k

    every = [(i, v) for p, i, v in store.verdicts() if p == pid]
    statuses = Counter(v.status for _, v in every)
    verdicts = [(i, v) for i, v in every if not v.is_error]  # errors are not judgements: out of n
    applied = [v for _, v in verdicts if v.status in ("resolved", "not_resolved")]
    n, c = len(verdicts), sum(v.correct for _, v in verdicts)
    counts = store.counts()
    return {
        "instance_id": pid, "attempts": counts["attempts"], "verified": n, "errors": len(every) - n,
        "statuses": dict(statuses), "tampered": statuses.get("tampered", 0),
        "applied": len(applied), "unique_patches": len({v.answer for _, v in verdicts if v.answer}),
        "unique_applied_patches": len({v.answer for v in applied}),
        # by meaning (harness.normalize: same code after dropping test-file edits)
        "unique_semantic": len({v.detail.get("semantic_key") or v.answer for _, v in verdicts if v.answer}),
        "pass_existing_tests": sum(v.detail.get("passes_existing_tests") is True for _, v in verdicts),
        "resolved": c, "pass@1": float(pass_at_k([n], [c], 1)[0]) if n else 0.0,
        f"pass@{n}": float(c > 0), "prompt_tokens": counts["prompt_tokens"],
        "completion_tokens": counts["completion_tokens"], "selection": selection.to_dict(), **extra,
    }


def solve(req: SolveRequest, *, on_update: Callable | None = None, panel_factory: Callable | None = None,
          status: Callable[[str], None] = lambda msg: None,
          warn: Callable[[str], None] = lambda msg: None) -> SolveResult:
    from harness.verify import DEFAULT_LIMITS
    from monkeys_swe.runner import Runner
    from monkeys_swe.samplers.base import make_sampler
    from monkeys_swe.tasks.swebench.localize import Localizer
    from monkeys_swe.tasks.swebench import SWEBenchTask

    inst = load_instance(req)
    run = {k: v for k, v in req.run.items() if v is not None}
    backend, max_tokens = run.get("backend", "llamacpp"), run.get("max_tokens", 1024)
    if req.localize and backend == "replay":
        raise UserError("--localize asks the model a question; the replay backend has no model to ask")
    context_tokens = req.context_tokens or default_context_tokens(backend, max_tokens)
    root = run_dir_root(req, inst, context_tokens)
    config = parse_config(RunConfig, {**run, "task": "swebench", "samples": req.samples, "max_tokens": max_tokens,
                                      "runs_dir": str(root), "verify_workers": req.verify_workers}, "solve options")
    run_dir = config.run_dir()
    with write_lock(run_dir):  # one writer per run directory (Runner nests in it)
        started = time.perf_counter()
        sampler = make_sampler(config)
        limits = dataclasses.replace(DEFAULT_LIMITS, timeout_s=req.timeout_s)
        localizer = Localizer(sampler, seed=config.seed) if req.localize else None
        task = SWEBenchTask([inst], repo_mirror=req.repo_mirror, context_tokens=context_tokens, localizer=localizer,
                            regression=req.regression, pool_size=req.verify_workers, log_dir=run_dir / "logs",
                            limits=limits, base_image=req.base_image, oracle_is_model_written=req.model_oracle,
                            verdict_cache=req.verdict_cache)
        matrix = None
        attempt_sampler = sampler  # in agent mode, wrapped so each attempt is a whole trajectory
        try:
            store = Store(run_dir)
            problems = store.problems()
            store.close()
            if not problems:
                status("retrieving context" + (" and localizing" if req.localize else ""))
                problems = task.load(None, None)
            status(f"building or finding the Docker image for {inst.instance_id}")
            t0 = time.perf_counter()
            try:
                task.prepare(problems) if not req.model_oracle else task.verifier(inst)
            except UserError:
                raise
            except Exception as exc:  # docker build errors, a failed install command...
                raise UserError(f"cannot build the image for {inst.instance_id}: {type(exc).__name__}: "
                                f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}") from None
            image_s = time.perf_counter() - t0
            if req.repo and req.test_cmd:
                base_run_warning(task.verifier(inst), req.test_cmd, warn)
            if req.tests:  # before any patch: without --test, the reproducing tests are the verifier
                from monkeys_swe.solve import repro

                found = repro.tests_phase(run_dir, sampler, lambda: task.verifier(inst), problems[0], inst, n=req.tests,
                                          params=config.params(()), seed=config.seed, workers=req.verify_workers,
                                          status=status)
                if req.model_oracle:
                    repro.use_as_oracle(problems[0], found.reproducing)
                    task.close()  # its verifier ran the tests alone; the next one runs them as the oracle
                    task.prepare(problems)
            if req.mode == "agent":
                from monkeys_swe.agent import AgentLimits, AgentSampler, swebench_targets

                limits = AgentLimits(step_limit=req.agent_steps, command_timeout_s=req.command_timeout_s,
                                     wall_clock_s=req.timeout_s)
                attempt_sampler = AgentSampler(sampler, run_dir, swebench_targets(task, problems), limits=limits,
                                               parallel=req.verify_workers)
            runner = Runner(config, task=task, sampler=attempt_sampler, problems=problems,  # no second retrieval
                            stop_on_success=req.stop_on_success)
            t0 = time.perf_counter()
            if panel_factory is not None:
                with panel_factory(run_dir, config) as panel:
                    runner.on_update = panel.update
                    runner.run()
            else:
                runner.on_update = on_update or (lambda s: None)
                runner.run()
            loop_s = time.perf_counter() - t0
            if req.tests:
                matrix = repro.matrix_phase(run_dir, lambda: task.verifier(task.instance(problems[0])), problems[0].id,
                                            workers=req.verify_workers, status=status)
            if req.judge:
                from monkeys_swe.solve import judge

                status("asking the model to judge the finalists")
                judge.run(run_dir, sampler, problems[0], inst, req.selector, seed=config.seed,
                          visible=inst.test_cmd is not None and not req.model_oracle)
        finally:
            task.close()
            from monkeys_swe.runner import ABANDONED

            if attempt_sampler is not sampler:
                attempt_sampler.close()
            if sampler not in ABANDONED and attempt_sampler not in ABANDONED:  # a decode may still run in it
                sampler.close()
        return finish(req, inst, run_dir, problems[0], {
            "docker_verifications": task.docker_verifications, "cache_hits": task.cache_hits,
            "regression_runs": task.test_runs, "regression_cache_hits": task.test_cache_hits,
            "image_s": round(image_s, 2),
            "loop_s": round(loop_s, 2), "total_s": round(time.perf_counter() - started, 2),
            "context_tokens": problems[0].data.get("context_tokens"), "context_files": problems[0].data.get("context_files"),
            "localized": problems[0].data.get("localized"), "model": sampler.model_name, "mode": req.mode,
            "models": [config.model, sampler.model_name], "matrix": matrix,
        })


def finish(req: SolveRequest, inst: SWEInstance, run_dir: Path, problem, extra: dict[str, Any]) -> SolveResult:
    """Select, store per-attempt scores, save chosen.patch and solve.json."""
    store = Store(run_dir)
    try:
        rows = [(i, v) for p, i, v in store.verdicts() if p == problem.id]
        for i, v in rows:
            passed = v.detail.get("passes_existing_tests")
            if passed is not None:
                store.add_score(problem.id, i, "regression_pass", float(passed))
        from monkeys_swe.solve import repro
        from monkeys_swe.solve.stages import select_run

        selector = req.selector
        selection, passed, n_tests = select_run(store, problem.id, rows, selector,
                                                verifier_is_visible=inst.test_cmd is not None and not req.model_oracle)
        for i, v in rows:
            if n_tests and v.status in ("resolved", "not_resolved"):
                store.add_score(problem.id, i, "repro_passed", float(passed.get(v.answer or "", 0)))
        if req.judge:
            from monkeys_swe.solve import judge

            selection = judge.apply(store, problem.id, rows, selection)
        matrix = extra.pop("matrix", None)
        summary = summarize(store, problem.id, selection, {**extra, "selector": selector,
                                                           "oracle": repro.oracle_label(inst, req.model_oracle)})
        models = summary.pop("models")
        summary["dollars"] = dollars_for_tokens(models, summary["prompt_tokens"], summary["completion_tokens"])
        repro.describe(store, problem.id, summary, model_oracle=req.model_oracle, tests_requested=req.tests,
                       models=models, matrix=matrix)
        store.set_meta("solve", summary)
    finally:
        store.close()
    if selection.patch:
        (run_dir / "chosen.patch").write_text(selection.patch, encoding="utf-8")
    write_summary(run_dir / "solve.json", summary)
    return SolveResult(run_dir, inst, summary, selection.patch)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """solve.json: this invocation's summary, with `history` holding every invocation's (a resume
    appends its own; the counts and timings of earlier ones are kept)."""
    history: list = []
    if path.exists():
        try:
            before = json.loads(path.read_text())
            history = before.pop("history", None) or [before]
        except (OSError, ValueError):
            history = []
    entry = {**{k: v for k, v in summary.items() if k != "history"}, "finished_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps({**entry, "history": [*history, entry]}, indent=2, default=str))


def apply_to_worktree(repo: str | Path, patch: str) -> None:
    """`git apply` the chosen patch in the user's working tree (checked first: all or nothing)."""
    import tempfile

    import git

    worktree = git.Repo(Path(repo).expanduser(), search_parent_directories=False)
    with tempfile.NamedTemporaryFile("w", suffix=".patch", encoding="utf-8") as f:
        f.write(patch)
        f.flush()
        for args in (["--check"], []):
            try:
                worktree.git.apply("--whitespace=nowarn", *args, f.name)
            except git.GitCommandError as exc:
                text = str(exc.stderr).strip().removeprefix("stderr:").strip().strip("'")
                first = (text.splitlines() or ["git apply failed"])[0]
                raise UserError(f"cannot apply the chosen patch to {repo}: {first} (it is saved in chosen.patch)") from None
