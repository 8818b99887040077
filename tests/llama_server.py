"""llama-cpp-python's real OpenAI-compatible server with the embedded SmolLM2 GGUF, on a free
127.0.0.1 port. Used by tests and benchmarks as a stand-in for any OpenAI-compatible server.

    with llama_server() as base_url:   # e.g. "http://127.0.0.1:41234/v1"
        ...
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_server(model: str | Path | None = None, *, n_ctx: int = 4096, threads: int | None = None,
                 startup_timeout_s: float = 60.0) -> Iterator[str]:
    """Start the server, wait until it answers /v1/models, yield its base URL; stop it on exit."""
    if model is None:
        from monkeys_swe.samplers.llamacpp import default_model_path

        model = default_model_path()
    port = free_port()
    threads = threads or os.cpu_count() or 1
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--n_threads", str(threads),
           "--n_ctx", str(n_ctx), "--host", "127.0.0.1", "--port", str(port)]
    base_url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + startup_timeout_s
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"llama_cpp.server exited ({proc.returncode}):\n{log.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not answer on port {port} within {startup_timeout_s} s")
                time.sleep(0.2)
            yield base_url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
