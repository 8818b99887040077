"""Local stand-ins for the network services a repository's tests call.

SWE-bench's images run with the network on, and requests' tests of 2012-2015 call
http(s)://httpbin.org itself: in our sandboxes (no network) about a third of their
PASS_TO_PASS tests fail, the image is rightly called broken, and no verdict is reached.
Rather than give untrusted candidates a network, the env layer installs the service
(httpbin, in its own venv, so the repository's environment is not touched) and every test
run starts it on 127.0.0.1 under the real host name, HTTP on 80 and HTTPS on 443 with a
certificate made at build time that the test process trusts (REQUESTS_CA_BUNDLE, certifi).
The address the tests use for "a host that never answers" is routed nowhere (BLACKHOLE,
harness.netns), so connect timeouts time out instead of failing as unreachable.
"""
from __future__ import annotations

SERVICES = {"psf/requests": ("httpbin",)}  # repo -> services its tests need
# repo -> addresses its tests expect to never answer (connect timeouts; harness.netns)
BLACKHOLE = {"psf/requests": ("10.255.255.1/32",)}
DIR = "/opt/monkeys-services"

# gunicorn's threaded worker, like the httpbin.org the tests were written against: HTTP/1.1
# keep-alive (it answers "Connection: keep-alive"), chunked request bodies, TLS.
_GUNICORN = (f"{DIR}/httpbin/venv/bin/gunicorn --daemon -k gthread --threads 8 --keep-alive 10 "
             f"--chdir /tmp --error-logfile /tmp/httpbin.log httpbin:app")

INSTALL = {
    "httpbin": [
        f'"$PY" -m venv {DIR}/httpbin/venv || exit 1',
        f"uv pip install --python {DIR}/httpbin/venv/bin/python httpbin gunicorn || exit 1",
        f"openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=httpbin.org "
        f"-addext subjectAltName=DNS:httpbin.org,DNS:www.httpbin.org "
        f"-keyout {DIR}/httpbin/key.pem -out {DIR}/httpbin/cert.pem 2>/dev/null || exit 1",
        # Code that calls Session.send (no REQUESTS_CA_BUNDLE) verifies against requests.certs.where():
        # certifi's bundle when certifi is installed (as in SWE-bench's conda envs), so install it
        # (as of the date) and trust the certificate there.
        "/opt/venv/bin/python -c 'import certifi' 2>/dev/null || uv_dated certifi || true",
        f"/opt/venv/bin/python -c 'import certifi, sys; open(certifi.where(), \"a\").write(open(sys.argv[1]).read())' "
        f"{DIR}/httpbin/cert.pem 2>/dev/null || true",
    ],
}

# One line each (it is prepended to the test command): map the name, start, wait for it.
START = {
    "httpbin": (
        "{ echo '127.0.0.1 httpbin.org www.httpbin.org www.google.co.uk' >> /etc/hosts; "
        f"{_GUNICORN} -b 127.0.0.1:80 --pid /tmp/httpbin-80.pid; "
        f"{_GUNICORN} -b 127.0.0.1:443 --pid /tmp/httpbin-443.pid "
        f"--certfile {DIR}/httpbin/cert.pem --keyfile {DIR}/httpbin/key.pem; "
        f"export REQUESTS_CA_BUNDLE={DIR}/httpbin/cert.pem; "
        "for p in 80 443; do for _ in $(seq 100); do python3 -c \"import socket; "
        "socket.create_connection(('127.0.0.1', $p), 1)\" 2>/dev/null && break; sleep 0.1; done; done; }"
    ),
}


def for_repo(repo: str) -> tuple[str, ...]:
    return SERVICES.get(repo, ())


def blackhole_for(repo: str) -> tuple[str, ...]:
    return BLACKHOLE.get(repo, ())


def install_lines(names: tuple[str, ...]) -> list[str]:
    return [line for n in names for line in INSTALL[n]]


def start_lines(names: tuple[str, ...]) -> list[str]:
    return [START[n] for n in names]
