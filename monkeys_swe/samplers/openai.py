"""Any OpenAI-compatible chat-completions server: vLLM serve, SGLang, llama.cpp's server, hosted APIs.

Each request asks for its slots with `n` (the prompt is then processed and billed once) and the
seed of its first slot. Servers that silently return fewer choices than asked (llama-cpp-python's
returns 1 for n=8) are detected on the first such reply and remembered per server: the missing
slots, and every later request to that server, go one slot per call with that slot's own seed.

Failures: transient ones (connection errors, timeouts, 408/409/429, 5xx) are retried by the
openai SDK itself (`max_retries`; it honours Retry-After and backs off exponentially). A
request that still fails is a failed slot, not a failed run: `generate` yields a FailedSlot for
its slots, the runner records them and a rerun asks again. Only errors that every request would
hit (401/403: the key; 404: the URL or model) end the run at once.

Token accounting: `prompt_tokens` is what the server reported for the request, recorded on the
request's first sample and 0 on its other samples, so summing a run's prompt_tokens gives the
prompt tokens actually billed; `meta["n"]` is the number of choices the request asked for.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, ClassVar, Iterable, Iterator

from monkeys_swe.errors import UserError
from monkeys_swe.samplers.base import BaseSampler
from monkeys_swe.types import FailedSlot, Sample, SampleRequest

MAX_N = 64  # slots per request; hosted APIs cap n (OpenAI at 128) and huge n hurts latency
DUMMY_KEY = "sk-no-key"  # local servers ignore the key but the SDK insists on one
_N_SUPPORTED: dict[str, bool] = {}  # base_url -> does the server honour n>1 (learned, per process)
_N_LOCK = threading.Lock()


FATAL = (401, 403, 404)  # every request would get these: stop the run


class RequestFailed(UserError):
    """One request failed after the SDK's retries; `status` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class ServerRejected(RequestFailed):
    """A 4xx other than 408/409/429: the request itself is wrong, so retrying it cannot help."""


def _error_text(exc: Any) -> str:
    """The server's own error message, on one line."""
    body = getattr(exc, "body", None)
    msg = None
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") or err.get("detail") if isinstance(err, dict) else err
        msg = msg or body.get("detail") or body.get("message")
    text = str(msg if msg is not None else getattr(exc, "message", exc))
    return " ".join(text.split())[:300]


class OpenAISampler(BaseSampler):
    name: ClassVar[str] = "openai"

    def __init__(
        self, base_url: str | None = None, model: str | None = None, *, api_key: str | None = None,
        concurrency: int = 8, max_retries: int = 5, timeout_s: float = 600.0,
    ):
        import openai

        self._openai = openai
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        key = api_key or os.environ.get("OPENAI_API_KEY") or DUMMY_KEY
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=max_retries, timeout=timeout_s)
        self.concurrency, self.max_retries = concurrency, max_retries
        self.model = model or self._served_model()
        self.model_name = self.model

    @classmethod
    def from_config(cls, config: Any) -> "OpenAISampler":
        return cls(config.base_url, config.model, api_key=config.api_key, concurrency=config.concurrency)

    # -- one HTTP call (the SDK retries transient failures) ---------------------------------
    def _call(self, fn, *args, **kwargs) -> Any:
        oa = self._openai
        try:
            return fn(*args, **kwargs)
        except oa.APIConnectionError as exc:  # APITimeoutError is one too
            raise RequestFailed(f"cannot reach OpenAI-compatible server at {self.base_url}: {_error_text(exc)} "
                                f"(is it up? --base-url names it)") from None
        except oa.APIStatusError as exc:
            code = exc.status_code
            if code in (408, 409, 429) or code >= 500:
                raise RequestFailed(f"server at {self.base_url} kept failing ({code}) after {self.max_retries} "
                                    f"retries: {_error_text(exc)}", code) from None
            hint = " (set --api-key or OPENAI_API_KEY)" if code in (401, 403) else ""
            raise ServerRejected(f"server at {self.base_url} rejected the request ({code}): "
                                 f"{_error_text(exc)}{hint}", code) from None

    def _served_model(self) -> str:
        page = self._call(self.client.models.list)
        if not page.data:
            raise UserError(f"server at {self.base_url} serves no model: pass --model")
        return page.data[0].id

    # -- sampling --------------------------------------------------------------------------
    def _complete(self, req: SampleRequest, indices: tuple[int, ...], seeds: tuple[int, ...]) -> tuple[list[Sample], list[tuple]]:
        """One chat completion for `indices`; returns the samples and the slots still to fill."""
        p, n = req.params, len(indices)
        start = time.perf_counter()
        try:
            out = self._call(
                self.client.chat.completions.create, model=self.model, messages=req.messages,
                temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
                stop=list(p.stop) or None, seed=seeds[0], **({"n": n} if n > 1 else {}),
            )
        except ServerRejected as exc:
            if n == 1 or exc.status not in (400, 422):
                raise
            # Some servers refuse n>1 outright: try the first slot alone. If that works, the
            # server is remembered as one-choice-only and the other slots go one by one below.
            samples, _ = self._complete(req, indices[:1], seeds[:1])
            with _N_LOCK:
                _N_SUPPORTED[self.base_url] = False
            return samples, [(req, (i,), (s,)) for i, s in zip(indices[1:], seeds[1:])]
        latency = time.perf_counter() - start
        choices = sorted(out.choices, key=lambda c: c.index)[:n]
        if not choices:
            raise UserError(f"server at {self.base_url} returned no choices for model '{self.model}'")
        usage = out.usage
        prompt = usage.prompt_tokens if usage else 0
        # Per-choice completion tokens are not reported with n>1: split the total evenly (exact sum).
        per, extra_tokens = divmod(usage.completion_tokens if usage else 0, len(choices))
        samples = [
            # The request's seed (its first slot's) is recorded on each choice; `choice` says which.
            Sample(req.problem_id, indices[j], c.message.content or "", prompt if j == 0 else 0,
                   per + (j < extra_tokens), seeds[0], latency, c.finish_reason or "stop",
                   {"n": n, "choice": j} if n > 1 else {})
            for j, c in enumerate(choices)
        ]
        rest: list[tuple] = []
        if n > 1:
            with _N_LOCK:
                _N_SUPPORTED[self.base_url] = len(choices) == n
            rest = [(req, (i,), (s,)) for i, s in zip(indices[len(choices):], seeds[len(choices):])]
        return samples, rest

    def _calls(self, req: SampleRequest) -> Iterator[tuple]:
        if _N_SUPPORTED.get(self.base_url) is False:
            yield from ((req, (i,), (s,)) for i, s in zip(req.indices, req.seeds))
            return
        for k in range(0, len(req.indices), MAX_N):
            yield req, req.indices[k:k + MAX_N], req.seeds[k:k + MAX_N]

    def generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample | FailedSlot]:
        pending: list[tuple] = []  # calls not yet submitted (fallback slots first)
        source = (call for req in requests for call in self._calls(req))
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai")
        inflight: set[Future] = set()
        calls: dict[Future, tuple] = {}
        try:
            while True:
                while len(inflight) < self.concurrency:
                    call = pending.pop(0) if pending else next(source, None)
                    if call is None:
                        break
                    fut = pool.submit(self._complete, *call)
                    inflight.add(fut)
                    calls[fut] = call
                if not inflight:
                    return
                done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    req, indices, _ = calls.pop(fut)
                    try:
                        samples, rest = fut.result()
                    except RequestFailed as exc:
                        if exc.status in FATAL:
                            raise
                        yield FailedSlot(req.problem_id, indices, str(exc))
                        continue
                    pending.extend(rest)
                    yield from samples
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.client.close()
