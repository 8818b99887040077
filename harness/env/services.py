"""Local stand-ins for the network services a repository's tests call.

SWE-bench's images run with the network on, and requests' tests of 2012-2015 call
http(s)://httpbin.org itself: in our sandboxes (no network) about a third of their
PASS_TO_PASS tests fail, the image is rightly called broken, and no verdict is reached.
Rather than give untrusted candidates a network, the env layer installs the service
(httpbin, in its own venv, so the repository's environment is not touched) and every test
run starts it on 127.0.0.1 under the real host name, HTTP on 80 and HTTPS on 443 with a
certificate made at build time that the test process trusts (REQUESTS_CA_BUNDLE).
"""
from __future__ import annotations

SERVICES = {"psf/requests": ("httpbin",)}  # repo -> services its tests need
DIR = "/opt/monkeys-services"

_SERVE = """\
import sys, threading
from werkzeug.serving import make_server
from httpbin import app
d = sys.argv[1]
servers = [make_server("127.0.0.1", 80, app, threaded=True),
           make_server("127.0.0.1", 443, app, threaded=True, ssl_context=(d + "/cert.pem", d + "/key.pem"))]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""

INSTALL = {
    "httpbin": [
        f'"$PY" -m venv {DIR}/httpbin/venv || exit 1',
        f"uv pip install --python {DIR}/httpbin/venv/bin/python httpbin werkzeug || exit 1",
        f"openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=httpbin.org "
        f"-addext subjectAltName=DNS:httpbin.org,DNS:www.httpbin.org "
        f"-keyout {DIR}/httpbin/key.pem -out {DIR}/httpbin/cert.pem 2>/dev/null || exit 1",
        f"cat > {DIR}/httpbin/serve.py <<'MONKEYS_EOF'\n{_SERVE}MONKEYS_EOF",
        # Code that calls Session.send (no REQUESTS_CA_BUNDLE) verifies against certifi's bundle.
        f"python -c 'import certifi, sys; open(certifi.where(), \"a\").write(open(sys.argv[1]).read())' "
        f"{DIR}/httpbin/cert.pem 2>/dev/null || true",
    ],
}

# One line each (it is prepended to the test command): map the name, start, wait for it.
START = {
    "httpbin": (
        "{ echo '127.0.0.1 httpbin.org www.httpbin.org www.google.co.uk' >> /etc/hosts; "
        f"({DIR}/httpbin/venv/bin/python {DIR}/httpbin/serve.py {DIR}/httpbin >/tmp/httpbin.log 2>&1 &); "
        f"export REQUESTS_CA_BUNDLE={DIR}/httpbin/cert.pem; "
        "for _ in $(seq 100); do python3 -c \"import socket; socket.create_connection(('127.0.0.1', 443), 1)\" "
        "2>/dev/null && break; sleep 0.1; done; }"
    ),
}


def for_repo(repo: str) -> tuple[str, ...]:
    return SERVICES.get(repo, ())


def install_lines(names: tuple[str, ...]) -> list[str]:
    return [line for n in names for line in INSTALL[n]]


def start_lines(names: tuple[str, ...]) -> list[str]:
    return [START[n] for n in names]
