"""Sampling throughput of a backend, against its raw engine, and n=k against k requests.

(a) overhead: our sampler vs the raw engine on the same model, prompts and seeds (target <= 5%).
    vllm: `LLM.generate` on all requests at once; openai: the SDK with the same concurrency and
    one call per slot where the server ignores n; llamacpp: benchmarks/llamacpp_overhead.py.
(b) sharing: one request with n=k vs k separate requests on a long (~2k-token) prompt, in
    completion tokens/s (target >= 2x on a GPU). "separate" = one after another, as a naive
    client; "batched" = k n=1 requests submitted together (vLLM's prefix cache shares the prompt).

    # vLLM (GPU, or CPU via .venv-vllm):
    python benchmarks/sampling_throughput.py --backend vllm [--model HF_DIR] [--prompts 8 --samples 8]
    # any OpenAI-compatible server (starts llama-cpp-python's server when --base-url is absent):
    python benchmarks/sampling_throughput.py --backend openai [--base-url URL --model NAME]
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llamacpp_overhead import build_requests  # noqa: E402  (same prompts and seeds everywhere)

from monkeys_swe.types import GenerationParams, SampleRequest  # noqa: E402

LONG_TEXT = ("The quick brown fox jumps over the lazy dog while the committee reviews the quarterly report "
             "on river sediment, bridge maintenance and the history of the old mill. ")


def machine() -> str:
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    except ImportError:
        pass
    return f"{platform.machine()} {os.cpu_count()} cpus{gpu}, {platform.platform()}"


def long_request(k: int, max_tokens: int, prompt_tokens: int = 2000) -> SampleRequest:
    words = max(1, prompt_tokens // 30)  # ~30 tokens per LONG_TEXT
    question = LONG_TEXT * words + "\nSummarise the text above in one paragraph."
    return SampleRequest("long", [{"role": "user", "content": question}], tuple(range(k)),
                         tuple(7000 + j for j in range(k)), GenerationParams(0.8, 0.95, max_tokens))


def timed(fn) -> tuple[float, int]:
    start = time.perf_counter()
    tokens = fn()
    return time.perf_counter() - start, tokens


def alternate(rounds: int, a, b) -> tuple[tuple[float, int], tuple[float, int]]:
    """Best of `rounds` for each side, run a, b, a, b...: a noisy machine hurts both alike."""
    runs = [(timed(a), timed(b)) for _ in range(rounds)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def report(label: str, a: tuple[float, int], b: tuple[float, int], what: str, target: str) -> None:
    ra, rb = a[1] / a[0], b[1] / b[0]
    print(f"  {label}: {a[1]} tok in {a[0]:.2f} s = {ra:.1f} tok/s  vs  {b[1]} tok in {b[0]:.2f} s = {rb:.1f} tok/s"
          f"  -> {what} {ra / rb:.2f}x ({target})")


# -- vLLM --------------------------------------------------------------------------------------
def bench_vllm(args) -> None:
    from vllm import SamplingParams

    from monkeys_swe.samplers.vllm import VLLMSampler

    start = time.perf_counter()
    sampler = VLLMSampler(args.model)
    print(f"vLLM engine up in {time.perf_counter() - start:.1f} s ({sampler.model_name})")
    llm = sampler.llm
    reqs = build_requests(args.prompts, args.samples, GenerationParams(0.7, 0.95, args.max_tokens))

    def params(req, indices, seeds, n=None):
        p = req.params
        return SamplingParams(n=n or len(indices), seed=seeds[0], temperature=p.temperature, top_p=p.top_p,
                              max_tokens=p.max_tokens)

    def raw(rs) -> int:
        outs = llm.generate([sampler._prompt(r) for r in rs], [params(r, r.indices, r.seeds) for r in rs], use_tqdm=False)
        return sum(len(o.token_ids) for out in outs for o in out.outputs)

    def ours(rs) -> int:
        return sum(s.completion_tokens for s in sampler.generate(rs))

    raw(reqs[:1])  # warm-up
    best_raw, best_ours = alternate(args.rounds, lambda: raw(reqs), lambda: ours(reqs))
    print(f"(a) {args.prompts} prompts x n={args.samples} x <= {args.max_tokens} tokens, best of {args.rounds}:")
    report("sampler vs raw LLM.generate", best_ours, best_raw, "speed ratio", "target >= 0.95")

    long = long_request(args.samples, args.max_tokens)
    prompt = sampler._prompt(long)
    print(f"(b) long prompt of {len(prompt['prompt_token_ids'])} tokens, k={args.samples}:")
    llm.reset_prefix_cache()
    one = timed(lambda: raw([long]))

    def separate() -> int:
        total = 0
        for j in range(args.samples):
            llm.reset_prefix_cache()  # a separate request to a server without prefix sharing
            out = llm.generate([prompt], [params(long, (j,), (long.seeds[j],), n=1)], use_tqdm=False)
            total += len(out[0].outputs[0].token_ids)
        return total

    def batched() -> int:
        outs = llm.generate([prompt] * args.samples, [params(long, (j,), (long.seeds[j],), n=1) for j in range(args.samples)],
                            use_tqdm=False)
        return sum(len(o.outputs[0].token_ids) for o in outs)

    report("n=k in one request vs k separate requests", one, timed(separate), "n=k speed-up", "target >= 2x on GPU")
    llm.reset_prefix_cache()
    report("n=k in one request vs k batched n=1 requests", one, timed(batched), "n=k speed-up", "prefix cache shares the prompt")
    sampler.close()


# -- OpenAI-compatible ------------------------------------------------------------------------
def bench_openai(args) -> None:
    import openai

    from monkeys_swe.samplers.openai import _N_SUPPORTED, OpenAISampler

    with ExitStack() as stack:
        base_url = args.base_url
        if not base_url:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from llama_server import llama_server

            base_url = stack.enter_context(llama_server(args.model if args.model and args.model.endswith(".gguf") else None))
            print(f"started llama-cpp-python's OpenAI server at {base_url}")
        sampler = OpenAISampler(base_url, args.model if args.base_url else None, concurrency=args.concurrency)
        client = openai.OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "sk-no-key"))
        reqs = build_requests(args.prompts, args.samples, GenerationParams(0.7, 0.95, args.max_tokens))
        ours = lambda: sum(s.completion_tokens for s in sampler.generate(reqs))  # noqa: E731
        ours()  # warm-up; also learns whether the server honours n
        honours_n = _N_SUPPORTED.get(sampler.base_url, True)
        print(f"server honours n: {honours_n}")

        def call(req, seeds):
            p = req.params
            out = client.chat.completions.create(model=sampler.model, messages=req.messages, temperature=p.temperature,
                                                 top_p=p.top_p, max_tokens=p.max_tokens, seed=seeds[0],
                                                 **({"n": len(seeds)} if len(seeds) > 1 else {}))
            return out.usage.completion_tokens

        def raw() -> int:
            calls = [(r, r.seeds) for r in reqs] if honours_n else [(r, (s,)) for r in reqs for s in r.seeds]
            with ThreadPoolExecutor(args.concurrency) as pool:
                return sum(pool.map(lambda c: call(*c), calls))

        best_raw, best_ours = alternate(args.rounds, raw, ours)
        print(f"(a) {args.prompts} prompts x {args.samples} samples x <= {args.max_tokens} tokens, concurrency "
              f"{args.concurrency}, best of {args.rounds}:")
        report("sampler vs raw SDK calls", best_ours, best_raw, "speed ratio", "target >= 0.95")
        long = long_request(args.samples, args.max_tokens)
        if honours_n:
            one = timed(lambda: call(long, long.seeds))
            separate = timed(lambda: sum(call(long, (s,)) for s in long.seeds))
            print(f"(b) long prompt (~2k tokens), k={args.samples}:")
            report("n=k in one request vs k separate requests", one, separate, "n=k speed-up", "target >= 2x on GPU")
        else:
            print("(b) skipped: this server returns one choice whatever n is")
        sampler.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["vllm", "openai", "llamacpp"], default="vllm")
    ap.add_argument("--model", help="vllm: HF directory (default: converted SmolLM2); openai: served model name")
    ap.add_argument("--base-url", help="openai: server URL (default: start llama-cpp-python's server)")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    if args.backend == "vllm":
        bench_vllm(args)
    elif args.backend == "openai":
        bench_openai(args)
    else:
        cmd = [sys.executable, str(Path(__file__).with_name("llamacpp_overhead.py")), "--prompts", str(args.prompts),
               "--samples", str(args.samples), "--max-tokens", str(args.max_tokens), "--rounds", str(args.rounds)]
        subprocess.run(cmd + (["--model", args.model] if args.model else []), check=True)
        print("(b) skipped: in-process llama.cpp has no n>1 (one call per sample, the prompt's KV cache reused)")


if __name__ == "__main__":
    main()
