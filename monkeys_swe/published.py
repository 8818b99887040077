"""Published sample sets (monkey_business-style JSON) as runs that reports and fits read like ours.

Each record (prompt, question, samples, and is_corrects and/or gt_answer) becomes one problem.
With `is_corrects` the published verdicts are kept as they are (the answer majority vote groups by
is still extracted with the task's own normalizer). With only `gt_answer`, the attempts are
replayed through the ordinary Runner (backend replay) and judged by the task's verifier.
Either way the result is a normal run directory, named like any run of the same config, and an
interrupted import resumes.
"""
from __future__ import annotations

from pathlib import Path

from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from monkeys_swe.registry import task_class
from monkeys_swe.samplers.replay import ReplaySampler, SampleSet, load_sample_sets
from monkeys_swe.store import Store
from monkeys_swe.types import Problem, Sample, Verdict


def _problems(task: str, sets: list[SampleSet]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for i, ss in enumerate(sets):
        pid = ss.id or f"{task}-import-{i}"
        if pid in seen:
            raise UserError(f"sample sets repeat the problem id {pid!r}: ids must be unique")
        seen.add(pid)
        out.append(Problem(id=pid, question=ss.question, answer=ss.gt_answer, data={"prompt": ss.prompt} if ss.prompt else {}))
    return out


def import_sample_sets(source: str | Path, *, task: str, runs_dir: str | Path = "runs", model: str | None = None) -> Path:
    """Turn a monkey_business JSON file (or directory of them) into a run; returns its directory."""
    source = Path(source)
    sets = load_sample_sets(source)
    if not sets:
        raise UserError(f"{source} holds no sample sets")
    for ss in sets:
        if ss.is_corrects is None and ss.gt_answer is None:
            raise UserError(f"{source}: record {ss.id or ss.question[:40]!r} has neither is_corrects nor gt_answer: can't judge it")
        if ss.is_corrects is not None and len(ss.is_corrects) != len(ss.samples):
            raise UserError(f"{source}: record {ss.id or ss.question[:40]!r} has {len(ss.samples)} samples but "
                            f"{len(ss.is_corrects)} is_corrects")
    task_obj = task_class(task)()
    name = model or source.stem
    config = RunConfig(task=task, backend="replay", replay_from=str(source.resolve()), model=name,
                       samples=max(len(ss.samples) for ss in sets), runs_dir=str(runs_dir), temperature=0)
    problems = _problems(task, sets)
    store = Store(config.run_dir())
    try:
        stored = store.get_meta("config")
        if stored is not None and {k: v for k, v in stored.items() if k != "model_name"} != config.identity():
            raise UserError(f"{config.run_dir()} holds a different run; use another --runs-dir")
        store.set_meta("config", {**config.identity(), "model_name": name})
        store.add_problems(problems)
        _write_published_verdicts(store, task_obj, problems, sets)
    finally:
        store.close()
    if any(ss.is_corrects is None for ss in sets):
        from monkeys_swe.runner import Runner

        sampler = ReplaySampler(source)
        sampler.model_name = name
        # Records with is_corrects are complete already, so the runner only replays and judges the rest.
        Runner(config, task=task_obj, sampler=sampler).run()
    return config.run_dir()


def _write_published_verdicts(store: Store, task, problems: list[Problem], sets: list[SampleSet]) -> None:
    filled = store.filled_indices()
    with store.db:  # one transaction: a published file can hold millions of samples
        store.db.execute("BEGIN")
        for problem, ss in zip(problems, sets):
            if ss.is_corrects is None:
                continue
            done = filled.get(problem.id, set())
            for i, (text, ok) in enumerate(zip(ss.samples, ss.is_corrects)):
                if i in done:
                    continue
                answer = task.dedupe_key(problem, text) or None
                store.add_sample(Sample(problem.id, i, text, 0, 0, None, 0.0, "stop", {"imported": True}))
                store.add_verdict(problem.id, i, Verdict(bool(ok), "correct" if ok else "incorrect", answer,
                                                         {"source": "is_corrects"}))
