"""The fault suite: the three services as separate processes on loopback, a mixed load of real oss2 clients over
every SSE mode checked against a journal of acknowledged writes, and faults injected while it runs — SIGKILL of
kms, meta or the gateway (each restarted on its port), SIGSTOP of kms or meta (a hung peer, resumed later),
and a disk that fills under meta and then has room again.

After the faults heal, every key is read back: an acknowledged write must read back bit-exact, a write that
failed may have landed or not (never a mix), a failed request must have been an OSS error or a refused
connection (never a 500), and no service may have panicked. Prints a JSON summary; exits non-zero on a
violation.

    python tests/faults/faults.py --bin target/debug/cang --kills 200 --stop-seconds 30 --seconds 600
"""

import argparse
import json
import os
import pathlib
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import oss2
import requests

SSE_MODES = [None, "AES256", "SM4", "KMS"]
SERVICES = ("kms", "meta", "gateway")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Instance:
    """A provisioned data directory and the three services run by hand, each killable and restartable."""

    def __init__(self, binary, root):
        self.binary = pathlib.Path(binary)
        self.dir = root / "data"
        self.logs = root / "logs"
        self.logs.mkdir()
        self.ports = {name: free_port() for name in SERVICES}
        self.procs = {}
        self.restarts = {name: 0 for name in SERVICES}
        self._provision()

    def _provision(self):
        # `cang up` once: root key, PKI, first account and its access key; then the services run on their own.
        port = free_port()
        log = open(self.logs / "up.log", "wb")
        up = subprocess.Popen(
            [str(self.binary), "up", "--data-dir", str(self.dir), "--listen", f"127.0.0.1:{port}",
             "--console-listen", f"127.0.0.1:{free_port()}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 120
        env = {}
        while time.monotonic() < deadline:
            creds = self.dir / "credentials.env"
            if creds.is_file():
                env = dict(line.split("=", 1) for line in creds.read_text().splitlines() if "=" in line)
                if env.get("OSS_ENDPOINT") == f"http://127.0.0.1:{port}" and answers(port):
                    break
            if up.poll() is not None:
                raise SystemExit(f"cang up exited: {(self.logs / 'up.log').read_text()[-2000:]}")
            time.sleep(0.1)
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
        log.close()
        self.access_key_id = env["OSS_ACCESS_KEY_ID"]
        self.access_key_secret = env["OSS_ACCESS_KEY_SECRET"]
        self.endpoint = f"http://127.0.0.1:{self.ports['gateway']}"

    def _args(self, name):
        tls = str(self.dir / "tls")
        kms, meta = f"127.0.0.1:{self.ports['kms']}", f"127.0.0.1:{self.ports['meta']}"
        if name == "kms":
            return ["kms", "--data-dir", str(self.dir / "kms"), "--root-key-file", str(self.dir / "root.key"),
                    "--listen", kms, "--tls-dir", tls]
        if name == "meta":
            return ["meta", "--data-dir", str(self.dir / "meta"), "--listen", meta, "--tls-dir", tls]
        # Short internal deadlines, so a hung peer costs each request seconds, not tens of them.
        return ["gateway", "--listen", f"127.0.0.1:{self.ports['gateway']}", "--kms-endpoint", kms,
                "--meta-endpoint", meta, "--tls-dir", tls, "--kms-deadline-secs", "3", "--meta-deadline-secs", "5",
                "--drain-secs", "1", "--access-log", "false"]

    def start(self, name, file_limit=None):
        """Starts a service; with `file_limit`, no file it writes may grow past that many bytes — a disk
        that fills (writes fail as they would with ENOSPC; SIGXFSZ is ignored)."""

        def limited():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, resource.RLIM_INFINITY))

        log = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [str(self.binary), *self._args(name)], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env={**os.environ, "CANG_LOG": "warn"},
            preexec_fn=limited if file_limit else None,
        )
        log.close()
        deadline = time.monotonic() + 60
        while not answers(self.ports[name]):
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start: {(self.logs / f'{name}.log').read_text()[-2000:]}")
            time.sleep(0.02)

    def start_all(self):
        for name in SERVICES:
            self.start(name)

    def kill(self, name):
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        self.restarts[name] += 1

    def stop_all(self):
        for name in reversed(SERVICES):
            proc = self.procs.get(name)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def panics(self):
        return [name for name in SERVICES if "panicked" in (self.logs / f"{name}.log").read_text(errors="replace")]


class Journal:
    """What each key may hold: the acknowledged value, or — after a failed write or delete — any of the values it
    may have landed as. `None` is "absent"."""

    def __init__(self):
        self.lock = threading.Lock()
        self.possible = {}

    def acknowledged(self, key, value):
        with self.lock:
            self.possible[key] = [value]

    def uncertain(self, key, value):
        with self.lock:
            self.possible.setdefault(key, [None]).append(value)

    def allows(self, key, value):
        with self.lock:
            return value in self.possible.get(key, [None])


class Load:
    def __init__(self, instance, workers, seed):
        self.instance = instance
        self.journal = Journal()
        self.stop = threading.Event()
        self.counts = {"ok": 0, "failed": 0, "bytes_verified": 0}
        self.failures = {}
        self.violations = []
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.workers = [threading.Thread(target=self._work, args=(i, self.rng.randrange(1 << 30))) for i in range(workers)]

    def bucket(self):
        auth = oss2.AuthV4(self.instance.access_key_id, self.instance.access_key_secret)
        return oss2.Bucket(auth, self.instance.endpoint, "faults", region="cn-hangzhou", connect_timeout=5)

    def _count(self, outcome):
        with self.lock:
            if outcome is None:
                self.counts["ok"] += 1
            else:
                self.counts["failed"] += 1
                self.failures[outcome] = self.failures.get(outcome, 0) + 1

    def _violation(self, text):
        with self.lock:
            self.violations.append(text)

    def _classify(self, err):
        """The failure as the client saw it; a 500 (or any non-OSS answer) is a violation."""
        if isinstance(err, oss2.exceptions.RequestError):
            return "connection"
        if isinstance(err, oss2.exceptions.OssError):
            if err.status >= 500 and err.status != 503:
                self._violation(f"HTTP {err.status} {err.code}: {err.message}")
            if not err.request_id:
                self._violation(f"an error without x-oss-request-id: {err.status} {err.code}")
            return f"{err.status} {err.code}"
        self._violation(f"unexpected client error: {err!r}")
        return type(err).__name__

    def _work(self, worker, seed):
        rng = random.Random(seed)
        bucket = self.bucket()
        keys = [f"w{worker}/k{i}" for i in range(12)]
        while not self.stop.is_set():
            key = rng.choice(keys)
            op = rng.random()
            try:
                if op < 0.45:
                    data = os.urandom(rng.choice([0, 1, 100, 4096, 70_000, 300_000]))
                    mode = rng.choice(SSE_MODES)
                    try:
                        bucket.put_object(key, data, headers={"x-oss-server-side-encryption": mode} if mode else None)
                    except oss2.exceptions.OssError as err:
                        self.journal.uncertain(key, data)
                        raise err
                    except oss2.exceptions.RequestError:
                        self.journal.uncertain(key, data)
                        raise
                    self.journal.acknowledged(key, data)
                elif op < 0.55:
                    try:
                        bucket.delete_object(key)
                    except (oss2.exceptions.OssError, oss2.exceptions.RequestError):
                        self.journal.uncertain(key, None)
                        raise
                    self.journal.acknowledged(key, None)
                elif op < 0.9:
                    self._check(bucket, key, rng)
                else:
                    list(oss2.ObjectIterator(bucket, prefix=f"w{worker}/", max_keys=5))
                self._count(None)
            except (oss2.exceptions.OssError, oss2.exceptions.RequestError) as err:
                self._count(self._classify(err))
                time.sleep(0.05)
            except requests.exceptions.ChunkedEncodingError:
                # A read whose headers were sent when the gateway (or meta below it) died: the body ends short
                # of its Content-Length, which the client detects. Nothing is stored by a read.
                self._count("truncated read")
                time.sleep(0.05)
            except Exception as err:  # a client-side surprise is a finding too
                self._violation(f"{key}: {err!r}")

    def _check(self, bucket, key, rng):
        try:
            got = bucket.get_object(key).read()
        except oss2.exceptions.NoSuchKey:
            got = None
        if not self.journal.allows(key, got):
            self._violation(f"{key}: read {None if got is None else len(got)} bytes, not an acknowledged value")
            return
        with self.lock:
            self.counts["bytes_verified"] += len(got or b"")
        if got and len(got) > 2:
            start = rng.randrange(len(got) - 1)
            part = bucket.get_object(key, byte_range=(start, len(got) - 1)).read()
            if part != got[start:]:
                self._violation(f"{key}: range {start}- differs")

    def run(self):
        for w in self.workers:
            w.start()

    def finish(self):
        self.stop.set()
        for w in self.workers:
            w.join(timeout=120)

    def verify_all(self):
        """Every key read once more, with the services healthy."""
        bucket = self.bucket()
        verified = 0
        for key in sorted(self.journal.possible):
            for attempt in range(50):
                try:
                    try:
                        got = bucket.get_object(key).read()
                    except oss2.exceptions.NoSuchKey:
                        got = None
                    break
                except (oss2.exceptions.OssError, oss2.exceptions.RequestError, requests.exceptions.ChunkedEncodingError):
                    time.sleep(0.2)
            else:
                self._violation(f"{key}: unreadable after the faults healed")
                continue
            if not self.journal.allows(key, got):
                self._violation(f"{key}: after healing, read a value that was never written or acknowledged away")
            verified += len(got or b"")
        return verified


def disk_full(instance, load, seconds):
    """Meta on a disk with a few MiB left, under the load for `seconds`; then the space comes back (the limit
    is lifted on the running process). Seconds until a write succeeds again without a restart."""
    meta_file = instance.dir / "meta" / "meta.redb"
    instance.kill("meta")
    instance.start("meta", file_limit=meta_file.stat().st_size + 2 * 1024 * 1024)
    # New objects (not overwrites, whose pages redb reuses) until the disk is full and stays so.
    bucket, refused, deadline, n = load.bucket(), 0, time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        key, data = f"full/{n}", os.urandom(256 * 1024)
        n += 1
        try:
            bucket.put_object(key, data)
            load.journal.acknowledged(key, data)
        except (oss2.exceptions.OssError, oss2.exceptions.RequestError) as err:
            load.journal.uncertain(key, data)
            refused += 1
            if isinstance(err, oss2.exceptions.OssError) and err.status != 503:
                load._violation(f"a write to a full disk was answered {err.status} {err.code}, not 503")
            time.sleep(0.05)
    if refused == 0:
        load._violation("the full disk refused no write: the scenario injected nothing")
    resource.prlimit(instance.procs["meta"].pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    started = time.monotonic()
    while time.monotonic() - started < 60:
        try:
            bucket.put_object("disk-full-probe", b"space is back")
            return time.monotonic() - started
        except (oss2.exceptions.OssError, oss2.exceptions.RequestError):
            time.sleep(0.1)
    load._violation("writes did not resume within 60 s of the disk having room again")
    return 60.0


def wait_serving(load, deadline_s=60):
    """Seconds until a request succeeds again."""
    started = time.monotonic()
    bucket = load.bucket()
    while time.monotonic() - started < deadline_s:
        try:
            bucket.get_bucket_info()
            return time.monotonic() - started
        except (oss2.exceptions.OssError, oss2.exceptions.RequestError):
            time.sleep(0.05)
    load._violation(f"service did not recover within {deadline_s} s")
    return deadline_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the cang binary")
    parser.add_argument("--kills", type=int, default=6, help="SIGKILLs, spread over the three services")
    parser.add_argument("--stop-seconds", type=float, default=3, help="how long kms, then meta, stay SIGSTOPped")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--disk-full-seconds", type=float, default=3, help="how long meta's disk stays full")
    parser.add_argument("--seconds", type=float, default=120, help="upper bound of the whole run")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()

    rng = random.Random(args.seed)
    started = time.monotonic()
    summary = {"seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="cang-faults-") as tmp:
        instance = Instance(args.bin, pathlib.Path(tmp))
        instance.start_all()
        load = Load(instance, args.workers, args.seed)
        load.bucket().create_bucket()
        load.run()
        recoveries = []
        try:
            for i in range(args.kills):
                if time.monotonic() - started > args.seconds * 0.7:
                    break
                time.sleep(rng.uniform(0.2, 1.0))
                name = SERVICES[i % 3] if i < 3 else rng.choice(SERVICES)
                instance.kill(name)
                time.sleep(rng.uniform(0.0, 0.5))
                instance.start(name)
                recoveries.append(wait_serving(load))
            for name in ("kms", "meta"):
                proc = instance.procs[name]
                proc.send_signal(signal.SIGSTOP)
                time.sleep(args.stop_seconds)
                proc.send_signal(signal.SIGCONT)
                recoveries.append(wait_serving(load))
            if args.disk_full_seconds > 0:
                summary["disk_full_recovery_seconds"] = round(disk_full(instance, load, args.disk_full_seconds), 2)
            time.sleep(1)
        finally:
            load.finish()
        summary["bytes_verified_after"] = load.verify_all()
        panics = instance.panics()
        instance.stop_all()
    if panics:
        load.violations.append(f"panics in {panics}")
    summary.update(
        kills=dict(instance.restarts),
        stops={"kms": args.stop_seconds, "meta": args.stop_seconds},
        disk_full_seconds=args.disk_full_seconds,
        requests=load.counts,
        failures=load.failures,
        keys=len(load.journal.possible),
        recovery_seconds_max=round(max(recoveries, default=0), 2),
        seconds=round(time.monotonic() - started, 1),
        violations=load.violations[:20],
    )
    print(json.dumps(summary, indent=2))
    return 1 if load.violations else 0


if __name__ == "__main__":
    sys.exit(main())
