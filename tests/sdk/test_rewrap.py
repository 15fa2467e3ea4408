"""The key inventory and rewrap against a real `cang up`, with objects written and read by the real SDKs.

A CMK is rotated twice while a client uploads; the inventory must split the objects across versions exactly as
the crypto service's audit says it issued their data keys. `cang admin rewrap` then moves them all to the newest
version, once killed midway (SIGKILL of the job, and in a second instance of the metadata service) and resumed:
every object ends under the primary version, the audit shows at most one ReEncrypt per object beyond the one in
flight at a kill, and every object reads back byte-exact through oss2 and alibabacloud-oss-v2.
"""

import collections
import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import alibabacloud_oss_v2 as oss
import oss2

from cang_up import PART_SIZE, oss2_bucket, oss_v2_client, running

KMS_HEADERS = "x-oss-server-side-encryption"


def _kms_bucket(cang, name, cmk):
    bucket = oss2_bucket(cang, "v4", name)
    bucket.create_bucket(headers={KMS_HEADERS: "KMS", f"{KMS_HEADERS}-key-id": cmk})
    return bucket


def _upload_while_rotating(cang, bucket, cmk, rotate_after=(12, 24), total=36):
    """Uploads `total` objects from a second thread while the key is rotated after the given counts; returns
    {key: bytes}. One of them is a multipart upload, whose parts share the upload's data key."""
    bodies = {}
    failures = []

    def writer():
        try:
            for i in range(total):
                key = f"obj-{i:04d}"
                data = os.urandom(64 + 37 * i)
                bucket.put_object(key, data)
                bodies[key] = data
        except Exception as err:  # reported by the main thread
            failures.append(err)

    thread = threading.Thread(target=writer)
    thread.start()
    for count in rotate_after:
        while len(bodies) < count and thread.is_alive():
            time.sleep(0.01)
        cang.admin("kms", "rotate-key", cmk)
    thread.join(timeout=120)
    assert not failures, failures
    assert not thread.is_alive()
    key = "multipart"
    data = os.urandom(PART_SIZE * 2 + 123)
    upload = bucket.init_multipart_upload(key).upload_id
    parts = []
    for n, start in enumerate(range(0, len(data), PART_SIZE), start=1):
        result = bucket.upload_part(key, upload, n, data[start : start + PART_SIZE])
        parts.append(oss2.models.PartInfo(n, result.etag))
    bucket.complete_multipart_upload(key, upload, parts)
    bodies[key] = data
    return bodies


def _issued_versions(records, bucket_name):
    """Object key → the key version whose data key the crypto service issued for it (GenerateDataKey)."""
    issued = {}
    for r in records:
        ctx = r["encryption_context"]
        if r["operation"] == "GenerateDataKey" and r["result"] == "ok" and ctx.get("bucket") == bucket_name:
            issued[ctx["object"]] = r["key_version_id"]
    return issued


def _inventory(cang, bucket_name, cmk):
    return cang.admin("inventory", "--bucket", bucket_name, "--key", cmk)["entries"]


def _reencrypts(records, bucket_name):
    return collections.Counter(
        r["encryption_context"].get("object")
        for r in records
        if r["operation"] == "ReEncrypt" and r["encryption_context"].get("bucket") == bucket_name
    )


def _rewrap_cmd(cang, *args):
    return [str(cang.binary), "admin", "--data-dir", str(cang.data_dir), "--json", "rewrap", *args]


def _start_slow_rewrap(cang, cmk, bucket_name):
    """A paced rewrap that reports progress lines; returns once it has moved some objects but not all."""
    proc = subprocess.Popen(
        _rewrap_cmd(cang, "--key", cmk, "--bucket", bucket_name, "--rate", "8"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen = json.loads(line)
        if seen["rewrapped"] >= 3:
            return proc, seen
    proc.kill()
    raise AssertionError(f"rewrap made no progress: {seen}, {proc.stderr.read()}")


def _read_everything(cang, bucket_name, bodies, cmk):
    v1 = oss2_bucket(cang, "v1", bucket_name)
    v2 = oss_v2_client(cang, "v4")
    for key, data in bodies.items():
        got = v1.get_object(key)
        assert got.read() == data, key
        assert got.headers[KMS_HEADERS] == "KMS"
        assert got.headers[f"{KMS_HEADERS}-key-id"] == cmk
        result = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
        assert result.body.read() == data, key


def _check_moved(cang, bucket_name, cmk, bodies, before, records_before):
    primary = cang.admin("kms", "describe-key", cmk)["PrimaryKeyVersion"]
    after = _inventory(cang, bucket_name, cmk)
    assert [(e["key_version_id"], e["objects"], e["primary"]) for e in after] == [(primary, len(bodies), True)]
    assert after[0]["bytes"] == sum(len(d) for d in bodies.values())
    moved = {k for k, v in before.items() if v != primary}
    records = cang.audit_records()[len(records_before) :]
    calls = _reencrypts(records, bucket_name)
    assert set(calls) == moved, "ReEncrypt exactly the objects that were under older versions"
    # One per object, and at most one more: the object in flight when the job was killed.
    assert sum(calls.values()) <= len(moved) + 1, calls
    assert all(r["key_version_id"] == primary for r in records if r["operation"] == "ReEncrypt")


def test_rotations_under_load_are_counted_exactly_and_a_killed_rewrap_resumes(cang, bucket_name):
    cmk = cang.create_key()
    bucket = _kms_bucket(cang, bucket_name, cmk)
    bodies = _upload_while_rotating(cang, bucket, cmk)
    records = cang.audit_records()
    issued = _issued_versions(records, bucket_name)
    assert set(issued) == set(bodies)
    expected = collections.Counter(issued.values())
    assert len(expected) == 3, f"two rotations during the uploads: {expected}"
    rows = _inventory(cang, bucket_name, cmk)
    assert {e["key_version_id"]: e["objects"] for e in rows} == dict(expected)
    by_version = collections.Counter()
    for key, version in issued.items():
        by_version[version] += len(bodies[key])
    assert {e["key_version_id"]: e["bytes"] for e in rows} == dict(by_version)
    assert sum(e["primary"] for e in rows) == 1

    proc, progress = _start_slow_rewrap(cang, cmk, bucket_name)
    newest = issued["multipart"]  # uploaded after both rotations
    assert progress["total_objects"] == len(bodies) - expected[newest], progress
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    half = _inventory(cang, bucket_name, cmk)
    assert len(half) > 1, "the killed job left objects under older versions"
    state = pathlib.Path(cang.data_dir) / "jobs" / f"rewrap-{cmk}.json"
    assert state.is_file(), "the cursor survives the kill"

    done = subprocess.run(_rewrap_cmd(cang, "--key", cmk, "--bucket", bucket_name), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout.strip().splitlines()[-1])
    assert final["finished"] and final["changed_meanwhile"] == 0, final
    assert not state.exists(), "a finished job removes its cursor"
    _check_moved(cang, bucket_name, cmk, bodies, issued, records)
    _read_everything(cang, bucket_name, bodies, cmk)

    again = subprocess.run(_rewrap_cmd(cang, "--key", cmk, "--bucket", bucket_name), capture_output=True, text=True, timeout=60)
    final = json.loads(again.stdout.strip().splitlines()[-1])
    assert (final["rewrapped"], final["reencrypt_calls"]) == (0, 0), final


def _meta_pid(data_dir):
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(args) > 1 and args[1] == b"meta" and any(a.startswith(bytes(data_dir)) for a in args):
            return int(entry.name)
    raise AssertionError("no meta process")


def _retire(cang, cmk, version):
    cmd = [str(cang.binary), "admin", "--data-dir", str(cang.data_dir), "--json", "kms", "retire-version", cmk, version]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_a_rewrap_survives_the_metadata_service_being_killed_and_lets_the_old_version_retire(
    bin_dir, tmp_path, bucket_name
):
    data_dir = tmp_path / "instance"
    with running(bin_dir / "cang", data_dir) as cang:
        cmk = cang.create_key()
        bucket = _kms_bucket(cang, bucket_name, cmk)
        bodies = {f"k-{i:03d}": os.urandom(200 + i) for i in range(30)}
        for key, data in bodies.items():
            bucket.put_object(key, data)
        cang.admin("kms", "rotate-key", cmk)
        records = cang.audit_records()
        issued = _issued_versions(records, bucket_name)
        (old_version,) = set(issued.values())
        refused = _retire(cang, cmk, old_version)
        assert refused.returncode != 0 and "30 objects" in refused.stderr, refused.stderr
        proc, _ = _start_slow_rewrap(cang, cmk, bucket_name)
        os.kill(_meta_pid(data_dir), signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.returncode != 0, "the job stops when the metadata service goes away"
    # No grace period in this instance: its gateway uses no bucket keys for KMS, so none of the old version.
    with running(bin_dir / "cang", data_dir, ["--version-retire-grace-secs", "0"]) as cang:
        done = subprocess.run(_rewrap_cmd(cang, "--key", cmk, "--bucket", bucket_name), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        _check_moved(cang, bucket_name, cmk, bodies, issued, records)
        primary = cang.admin("kms", "describe-key", cmk)["PrimaryKeyVersion"]
        assert "primary" in _retire(cang, cmk, primary).stderr
        retired = _retire(cang, cmk, old_version)
        assert retired.returncode == 0, retired.stderr
        versions = [v["KeyVersionId"] for v in cang.admin("kms", "list-key-versions", cmk)["KeyVersions"]]
        assert versions == [primary]
        _read_everything(cang, bucket_name, bodies, cmk)
