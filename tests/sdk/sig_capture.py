"""Capture what real OSS SDKs send, and ask the Rust signature verifier about it.

A loopback HTTP server records every request (method, raw path and query, headers as received) and answers
200 with no body; the SDK calls that follow may fail to parse that answer, which does not matter here.
Captured requests are fed as JSON lines to the `verify_requests` example built from `cang-oss`.
"""

import contextlib
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Virtual-host requests go to `<bucket>.sig.test`; the resolver patch sends that name to 127.0.0.1.
VHOST_DOMAIN = "sig.test"


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path, _, query = self.path.partition("?")
        self.server.captured.append(
            {
                "method": self.command,
                "path": path,
                "query": query,
                # http.server decodes header bytes as Latin-1: one char per byte.
                "headers": [[name, value] for name, value in self.headers.items()],
            }
        )
        self.send_response(200)
        self.send_header("x-oss-request-id", "0" * 24)
        self.send_header("ETag", '"D41D8CD98F00B204E9800998ECF8427E"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _record

    def log_message(self, *args):
        pass


class CaptureServer:
    """A loopback server that records requests; `take()` returns and clears them."""

    def __init__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        self._server.captured = []
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def take(self):
        captured, self._server.captured = self._server.captured, []
        seeds = os.environ.get("CANG_FUZZ_SEEDS")
        if seeds:
            write_fuzz_seeds(pathlib.Path(seeds), captured)
        return captured

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def loopback_vhost_resolution(monkeypatch):
    """Resolve `*.sig.test` (and `sig.test`) to 127.0.0.1 inside this process; nothing else changes."""
    original = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and (host == VHOST_DOMAIN or host.endswith("." + VHOST_DOMAIN)):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    yield


def header(request, name):
    for key, value in request["headers"]:
        if key.lower() == name:
            return value
    return None


def route(request):
    """Bucket and decoded key the way the gateway's router resolves them (virtual host, else path style)."""
    host = (header(request, "host") or "").split(":")[0]
    raw = request["path"][1:]
    if host.endswith("." + VHOST_DOMAIN):
        bucket, raw_key = host[: -len(VHOST_DOMAIN) - 1], raw
    else:
        bucket, _, raw_key = raw.partition("/")
    key = urllib.parse.unquote(raw_key, errors="strict") if raw_key else None
    return (bucket or None), key


def _change_char(text, index, alphabet):
    replacement = next(c for c in alphabet if c != text[index])
    return text[:index] + replacement + text[index + 1 :]


def with_headers(request, headers):
    return dict(request, headers=headers)


def tamper_signature(request):
    """The same request with one character of its signature changed."""
    auth = header(request, "authorization")
    if auth is not None:
        marker = "Signature=" if auth.startswith("OSS4-HMAC-SHA256") else ":"
        index = auth.index(marker) + len(marker)
        changed = _change_char(auth, index, "0123456789abcdef")
        headers = [[k, changed if k.lower() == "authorization" else v] for k, v in request["headers"]]
        return with_headers(request, headers)
    parts = request["query"].split("&")
    for i, part in enumerate(parts):
        name, _, value = part.partition("=")
        if name in ("Signature", "x-oss-signature"):
            parts[i] = name + "=" + _change_char(value, 0, "0123456789abcdef")
            return dict(request, query="&".join(parts))
    raise AssertionError(f"no signature in {request}")


def tamper_signed_header(request):
    """One byte changed in a header the signature covers, or None when the request signs no header."""
    signed = ("x-oss-meta-", "content-type", "content-md5", "x-oss-date", "date")
    for prefix in signed:
        for i, (name, value) in enumerate(request["headers"]):
            if not name.lower().startswith(prefix) or (prefix == "date" and name.lower() != "date"):
                continue
            if prefix in ("x-oss-date", "date"):
                # Change the seconds digit so the time still parses and stays within the skew window.
                index = len(value) - (2 if value.endswith("Z") else 5)
                changed = _change_char(value, index, "0123456789")
            else:
                changed = _change_char(value, len(value) - 1, "xyz")
            headers = [list(h) for h in request["headers"]]
            headers[i][1] = changed
            return with_headers(request, headers)
    return None


def tamper_path(request):
    """One character of the path changed (the last letter or digit; `/` becomes `/x`)."""
    path = request["path"]
    positions = [i for i, c in enumerate(path) if c.isalnum()]
    if not positions:
        return dict(request, path=path + "x")
    return dict(request, path=_change_char(path, positions[-1], "qz"))


class Verifier:
    """Runs the `verify_requests` example over captured requests."""

    def __init__(self, binary):
        if not binary.is_file():
            raise FileNotFoundError(f"{binary} is missing: build it with `cargo build -p cang-oss --examples`")
        self.binary = binary

    def verdicts(self, credentials, requests):
        lines = [json.dumps({"credential": c}) for c in credentials]
        now = int(time.time())
        for request in requests:
            bucket, key = route(request)
            lines.append(json.dumps({"request": dict(request, bucket=bucket, key=key, now=now)}))
        done = subprocess.run(
            [str(self.binary)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"verify_requests failed: {done.stderr}")
        answers = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(answers) == len(requests), done.stdout
        return answers


def write_fuzz_seeds(directory, captured):
    """Writes each captured request in the text form the fuzz targets read (`fuzz/src/lib.rs`): the capture
    time, method, raw path, raw query, then one header per line. Run the signature tests with
    CANG_FUZZ_SEEDS=fuzz/seeds/requests to refresh `fuzz/seeds/`."""
    directory.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    for request in captured:
        lines = [str(now), request["method"], request["path"], request["query"]]
        lines += [f"{name}: {value}" for name, value in request["headers"]]
        data = "\n".join(lines).encode("latin-1")
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
