"""Reward-model scorer throughput: attempts scored per second, batched against one at a time.

The scorer is monkeys_swe/rewards.py on a tiny sequence-classification RM built locally
(tests/tiny_rm.py: random weights, the embedded SmolLM2's tokenizer and chat template), or any
RM directory given with --model. The baseline, measured in the same run on the same attempts, is
the same backend scoring one attempt per call (batch 1); the figure is attempts/s and the ratio.

    # CPU, in .venv-vllm (bash .ci/vllm-env):
    .venv-vllm/bin/python benchmarks/rm_throughput.py [--backend hf|vllm] [--attempts 64 --batch 16]
    # GPU (benchmarks/gpu_check.sh --rm): --device cuda, and --backend vllm for the pooling runner
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monkeys_swe.types import Problem  # noqa: E402

QUESTION = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips to her "
            "friends in May. How many clips did Natalia sell altogether in April and May?")


def attempts(n: int) -> list[tuple[Problem, str]]:
    """n attempts of 40-120 words each, with a final answer: GSM8K-like lengths."""
    out = []
    for i in range(n):
        steps = " ".join(f"Step {j}: {48 + j} / 2 = {(48 + j) / 2}." for j in range(4 + i % 9))
        out.append((Problem(f"p{i % 8}", QUESTION), f"{steps} The answer is {72 + i % 3}. #### {72 + i % 3}"))
    return out


def make(backend: str, model: Path, batch: int, device: str | None, max_tokens: int):
    from monkeys_swe.rewards import HFRewardModel, VLLMRewardModel

    if backend == "hf":
        return HFRewardModel(model, batch_size=batch, device=device, max_tokens=max_tokens)
    return VLLMRewardModel(model, batch_size=batch, max_tokens=max_tokens, enforce_eager=device in (None, "cpu"))


def rate(scorer, items) -> float:
    scorer.score_batch(items[:2])  # warm-up
    t = time.perf_counter()
    scorer.score_batch(items)
    return len(items) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["hf", "vllm"], default="hf")
    ap.add_argument("--model", type=Path, default=None, help="an RM directory (default: the tiny RM, built once)")
    ap.add_argument("--attempts", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default=None, help="hf: cpu or cuda (default: cuda when there is one)")
    ap.add_argument("--max-tokens", type=int, default=1024)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.model is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from tiny_rm import build_tiny_rm

        from monkeys_swe.samplers.vllm import models_cache

        args.model = build_tiny_rm(models_cache() / "tiny-rm")
    items = attempts(args.attempts)
    scorer = make(args.backend, args.model, args.batch, args.device, args.max_tokens)
    batched = rate(scorer, items)
    scorer.batch_size = 1
    single = rate(scorer, items)
    tokens = sum(len(scorer.inputs.ids(p.question, c)) for p, c in items) / len(items)
    where = getattr(scorer, "device", None) or ("vllm " + ("cpu" if args.device in (None, "cpu") else "gpu"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus; device: {where}; model: {args.model}")
    print(f"{args.attempts} attempts, {tokens:.0f} tokens each on average")
    print(f"rm scorer ({args.backend}), batch {args.batch}: {batched:.1f} attempts/s")
    print(f"baseline, batch 1 (same run):        {single:.1f} attempts/s")
    print(f"ratio batched / one at a time: {batched / single:.2f}x")


if __name__ == "__main__":
    main()
