"""Replay attempts instead of generating them: from an earlier run, or monkey_business-style JSON.

Verification can then be rerun (a new verifier, a fixed bug) without paying for generation again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator

from harness.records import RecordsError, read_json_records
from monkeys_swe.errors import UserError
from monkeys_swe.samplers.base import BaseSampler
from monkeys_swe.types import Sample, SampleRequest


@dataclass
class SampleSet:
    """One problem's published samples (the monkey_business layout)."""

    question: str
    samples: list[str | list[str]]  # a list: an agent trajectory's replies
    id: str | None = None
    gt_answer: str | None = None
    is_corrects: list[bool] | None = None
    prompt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _as_sample_set(rec: dict[str, Any], where: str) -> SampleSet:
    if not isinstance(rec, dict) or not isinstance(rec.get("samples"), list):
        raise UserError(f"{where}: each record needs a 'samples' list (monkey_business layout)")
    ident = rec.get("id") or rec.get("problem_id") or rec.get("instance_id") or rec.get("name")
    known = {"id", "problem_id", "instance_id", "name", "question", "samples", "gt_answer", "is_corrects", "prompt"}
    return SampleSet(
        question=str(rec.get("question", "")),
        # A sample that is a list is an agent trajectory: its replies, one per step.
        samples=[[str(r) for r in s] if isinstance(s, list) else str(s) for s in rec["samples"]],
        id=str(ident) if ident is not None else None,
        gt_answer=None if rec.get("gt_answer") is None else str(rec["gt_answer"]),
        is_corrects=rec.get("is_corrects"), prompt=rec.get("prompt"),
        extra={k: v for k, v in rec.items() if k not in known},
    )


def load_sample_sets(path: str | Path) -> list[SampleSet]:
    """Records from a JSON file (one record or a list), a JSONL file, or a directory of either."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"replay source not found: {path}")
    files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl")) if path.is_dir() else [path]
    out: list[SampleSet] = []
    for f in files:
        try:
            records = read_json_records(f)
        except RecordsError as exc:
            raise UserError(f"replay source is not valid JSON: {exc}") from None
        out.extend(_as_sample_set(r, str(f)) for r in records)
    return out


class ReplaySampler(BaseSampler):
    name: ClassVar[str] = "replay"

    def __init__(self, source: str | Path):
        source = Path(source)
        self.model_name = f"replay:{source.name}"
        # (problem key) -> texts by slot; keys are ids, and also question texts for sets without ids.
        self._texts: dict[str, dict[int, Sample | str | list[str]]] = {}
        self._by_position: list[dict[int, Sample | str]] = []
        # (problem key) -> slot -> extra meta: a record's `sources` list names each sample's origin
        self._meta: dict[str, dict[int, dict[str, Any]]] = {}
        if (source / "run.db").exists():
            from monkeys_swe.store import Store

            store = Store(source, create=False)
            for s in store.samples():
                self._texts.setdefault(s.problem_id, {})[s.index] = s
            from monkeys_swe.trajectories import TrajectoryStore, has_trajectories

            if has_trajectories(source):  # an agent run: replay each trajectory's replies
                trajectories = TrajectoryStore(source)
                for pid, by_index in trajectories.replies().items():
                    self._texts.setdefault(pid, {}).update(by_index)
                trajectories.close()
            config = store.get_meta("config") or {}
            store.close()
            self.model_name = str(config.get("model_name") or self.model_name)
        else:
            for ss in load_sample_sets(source):
                slots: dict[int, Sample | str] = dict(enumerate(ss.samples))
                self._by_position.append(slots)
                sources = ss.extra.get("sources")
                meta = {i: {"source": str(src)} for i, src in enumerate(sources)} if isinstance(sources, list) else {}
                for key in (ss.id, ss.question):
                    if key:
                        self._texts[key] = slots
                        self._meta[key] = meta

    @classmethod
    def from_config(cls, config: Any) -> "ReplaySampler":
        cls.check_config(config)
        return cls(config.replay_from)

    @classmethod
    def check_config(cls, config: Any) -> None:
        if not config.replay_from:
            raise UserError("the replay backend needs --replay-from RUN_DIR_OR_JSON")
        if not Path(config.replay_from).expanduser().exists():
            raise UserError(f"replay source not found: {config.replay_from}")

    def slots_for(self, problem_id: str, question: str = "", position: int | None = None) -> dict[int, Sample | str]:
        for key in (problem_id, question):
            if key in self._texts:
                return self._texts[key]
        if position is not None and position < len(self._by_position):
            return self._by_position[position]
        return {}

    def generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample]:
        for req in requests:
            slots = self.slots_for(req.problem_id, req.question)
            extra = self._meta.get(req.problem_id) or self._meta.get(req.question) or {}
            for index, seed in zip(req.indices, req.seeds):
                item = slots.get(index)
                if item is None:
                    continue  # the source has fewer samples than asked for: replay what exists
                if isinstance(item, list):  # an agent trajectory: the reply for this step
                    step = sum(m.get("role") == "assistant" for m in req.messages)
                    if step < len(item):
                        yield Sample(req.problem_id, index, item[step], 0, 0, seed, 0.0, "stop",
                                     {"replayed": True, "step": step})
                elif isinstance(item, Sample):
                    yield Sample(req.problem_id, index, item.text, item.prompt_tokens, item.completion_tokens,
                                 item.seed, 0.0, item.finish_reason, {**item.meta, "replayed": True})
                else:
                    yield Sample(req.problem_id, index, item, 0, 0, seed, 0.0, "stop",
                                 {"replayed": True, **extra.get(index, {})})

    def close(self) -> None:
        pass
