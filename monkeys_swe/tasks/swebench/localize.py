"""`--localize`: ask the model which files to edit before retrieval fills the context.

One greedy-ish request (temperature 0, the run's seed) per instance, over the BM25 top files
(a whole file list of a large repo would not fit a small model's window). The answer is parsed
leniently: any listed path it names, in its order. An answer that names nothing leaves plain
BM25 retrieval in charge.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from harness.instance import SWEInstance
from monkeys_swe.samplers.base import Sampler, sample_seed
from monkeys_swe.tasks.swebench import prompt
from monkeys_swe.tasks.swebench.retrieval import RepoSnapshot, rank_files
from monkeys_swe.types import GenerationParams

MAX_LISTED = 60


@dataclass
class Localizer:
    sampler: Sampler
    seed: int = 0
    max_tokens: int = 64  # three paths; a rambling answer is cut short
    k: int = 3
    log: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance -> answer, files, tokens

    def __call__(self, inst: SWEInstance, snapshot: RepoSnapshot) -> list[str]:
        order, _, _ = rank_files(snapshot, inst.problem_statement)
        listed = order[:MAX_LISTED]
        repo = os.path.basename(inst.repo) if inst.repo_path else inst.repo
        sample = self.sampler.complete(
            prompt.localize_messages(repo, inst.problem_statement, listed, self.k),
            GenerationParams(temperature=0.0, top_p=1.0, max_tokens=self.max_tokens),
            seed=sample_seed(self.seed, inst.instance_id + "#localize", 0), problem_id=f"{inst.instance_id}#localize")
        text = sample.text if sample else ""
        files = prompt.parse_localization(text, listed, self.k)
        self.log[inst.instance_id] = {"answer": text, "files": files,
                                      "prompt_tokens": sample.prompt_tokens if sample else 0,
                                      "completion_tokens": sample.completion_tokens if sample else 0}
        return files
