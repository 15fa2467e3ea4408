"""A `cang up` process for the SDK suites: start it on a free loopback port, wait until it serves, stop it; the
admin calls the tests need; SDK clients pointed at it in both signature versions (oss-api.md §12). The instance's
KMS OpenAPI endpoint (`KMS_ENDPOINT` of credentials.env) and its gRPC API (`KMS_GRPC_ENDPOINT`, `KMS_GRPC_CA`) are
recorded for the KMS suites.
"""

import contextlib
import dataclasses
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import alibabacloud_oss_v2 as oss
import oss2

STARTUP_DEADLINE_S = 60
STOP_DEADLINE_S = 20
PART_SIZE = 100 * 1024  # the smallest part OSS accepts for every part but the last


def admin_cli(binary, *args, data_dir=None, timeout=120):
    """`cang admin --json [--data-dir D] ARGS…` as a finished process (stdout, stderr, returncode): for the
    commands that may fail on purpose, or that need no running instance."""
    cmd = [str(binary), "admin", "--json"]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)


@dataclasses.dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str


@dataclasses.dataclass
class CangInstance:
    """A running `cang up`: its endpoint, root credentials and an admin client bound to its data directory."""

    binary: pathlib.Path
    data_dir: pathlib.Path
    endpoint: str
    region: str
    root: Credentials
    kms_endpoint: str = ""
    kms_grpc_endpoint: str = ""
    kms_grpc_ca: str = ""
    console_url: str = ""

    def admin(self, *args):
        """Run `cang admin --json ARGS…` against this instance and return the decoded JSON output."""
        done = admin_cli(self.binary, *args, data_dir=self.data_dir, timeout=30)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def create_key(self):
        """A new CMK of the root account; returns its key id."""
        return self.admin("kms", "create-key", "--description", "sdk conformance")["KeyId"]

    def default_oss_key(self):
        """Key id behind `alias/acs/oss`, the account's default CMK for SSE-KMS (created on first use)."""
        return self.admin("kms", "describe-key", "alias/acs/oss")["KeyId"]

    def account_id(self):
        """Id of the first account, the one whose root key the instance wrote to credentials.env and that
        `cang admin` acts on by default: the oldest, not the lowest id (other tests add accounts)."""
        accounts = self.admin("account", "list")
        return min(accounts, key=lambda a: (a["created_ms"], a["id"]))["id"]

    def audit_records(self):
        """Every record of the crypto service's audit log, oldest first (paged as `cang admin kms audit` pages)."""
        records, after = [], 0
        while True:
            page = self.admin("kms", "audit", "--after", str(after), "--limit", "1000")
            records += page
            if len(page) < 1000:
                return records
            after = page[-1]["sequence"]

    def ram_user(self, statements, tmp_path):
        """A new RAM user with one policy made of `statements`; returns the user's access key."""
        name = f"u{uuid.uuid4().hex[:12]}"
        self.admin("user", "create", name)
        if statements:
            doc = tmp_path / f"{name}.json"
            doc.write_text(json.dumps({"Version": "1", "Statement": statements}))
            self.admin("policy", "put", f"{name}-policy", "--file", str(doc))
            self.admin("policy", "attach", f"{name}-policy", "--user", name)
        key = self.admin("key", "create", "--user", name)
        return Credentials(key["access_key_id"], key["access_key_secret"])


def _free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_env_file(path):
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values


def _answers_http(endpoint):
    """True once anything answers HTTP at the endpoint (an anonymous `GET /` is refused, which is an answer)."""
    try:
        urllib.request.urlopen(endpoint + "/", timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _log_tail(log_path, lines=40):
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc):
    """SIGTERM `cang up` and wait for it to drain; kill its whole process group past the deadline."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class StartupError(Exception):
    """`cang up` exited or did not serve in time; the message carries the tail of its log."""


class ShutdownError(Exception):
    """`cang up` stopped but left services of its data directory running (they are killed, by pid)."""


def _processes_using(data_dir):
    """Pids of live processes with an argument inside `data_dir` (kms, meta and gateway all name a path there)."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # exited meanwhile
        root = bytes(data_dir)
        if any(arg == root or arg.startswith(root + b"/") for arg in args):
            pids.append(int(entry.name))
    return pids


def _reap_leftover_services(data_dir):
    deadline = time.monotonic() + 5
    while (pids := _processes_using(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pids:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise ShutdownError(f"services still running after cang up stopped: pids {pids}")


@contextlib.contextmanager
def running(binary, data_dir, extra_args=()):
    """Run `cang up` in `data_dir` on a free loopback port (with `extra_args`) until the block ends; yields a
    CangInstance."""
    log_path = data_dir.parent / f"{data_dir.name}.log"
    port = _free_loopback_port()
    # A console port of its own on the first start; a restart keeps the recorded one, as `cang up` does.
    state = data_dir / "instance.json"
    recorded = state.is_file() and '"console"' in state.read_text()
    console = [] if recorded else ["--console-listen", f"127.0.0.1:{_free_loopback_port()}"]
    with open(log_path, "wb") as log:
        # A session of its own, so that a last-resort kill of the group reaches the three services too.
        proc = subprocess.Popen(
            [
                str(binary), "up", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}",
                *console, *extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        env = _wait_until_serving(proc, data_dir / "credentials.env", log_path, f"http://127.0.0.1:{port}")
        yield CangInstance(
            binary=binary,
            data_dir=data_dir,
            endpoint=env["OSS_ENDPOINT"],
            region=env["OSS_REGION"],
            root=Credentials(env["OSS_ACCESS_KEY_ID"], env["OSS_ACCESS_KEY_SECRET"]),
            kms_endpoint=env.get("KMS_ENDPOINT", ""),
            kms_grpc_endpoint=env.get("KMS_GRPC_ENDPOINT", ""),
            kms_grpc_ca=env.get("KMS_GRPC_CA", ""),
            console_url=env.get("CONSOLE_URL", ""),
        )
    finally:
        _stop(proc)
        _reap_leftover_services(data_dir)


def _wait_until_serving(proc, credentials_file, log_path, endpoint):
    """The instance's credentials.env once it names `endpoint` and that endpoint answers. A data directory
    started before holds the previous run's file until the new run rewrites it, so the file is read again until
    it names this run's port."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartupError(f"cang up exited with {proc.returncode}:\n{_log_tail(log_path)}")
        env = _read_env_file(credentials_file) if credentials_file.is_file() else {}
        if (
            "OSS_ACCESS_KEY_SECRET" in env  # else still being written
            and env.get("OSS_ENDPOINT") == endpoint
            and _answers_http(endpoint)
        ):
            return env
        time.sleep(0.1)
    raise StartupError(f"cang up did not serve {endpoint} within {STARTUP_DEADLINE_S} s:\n{_log_tail(log_path)}")


def oss2_bucket(cang, version, name, credentials=None):
    """An oss2 Bucket signing with AuthV1 or AuthV4 (region cn-hangzhou); path style is automatic for an IP."""
    creds = credentials or cang.root
    if version == "v1":
        return oss2.Bucket(oss2.Auth(creds.access_key_id, creds.access_key_secret), cang.endpoint, name)
    return oss2.Bucket(
        oss2.AuthV4(creds.access_key_id, creds.access_key_secret), cang.endpoint, name, region=cang.region
    )


def oss_v2_client(cang, version, credentials=None):
    """An alibabacloud-oss-v2 client with its default V4 signer or `signature_version='v1'` (CRC checks on)."""
    creds = credentials or cang.root
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(creds.access_key_id, creds.access_key_secret)
    cfg.region = cang.region
    cfg.endpoint = cang.endpoint
    cfg.use_path_style = True
    if version == "v1":
        cfg.signature_version = "v1"
    return oss.Client(cfg)
