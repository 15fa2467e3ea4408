"""Key-maintenance jobs run by the gateway of a real `cang up`, started and watched with `cang admin jobs`.

A rewrap job moves every object of a rotated CMK to the primary version; an encrypt-existing job is started
detached and slow, listed, cancelled midway and started again to the end. The crypto service's audit log holds
each run's start and end (with its counts); every object reads back byte-exact through oss2 and
alibabacloud-oss-v2 under the encryption the job brought it to.
"""

import json
import os

import alibabacloud_oss_v2 as oss

from cang_up import admin_cli, oss2_bucket, oss_v2_client

SSE = "x-oss-server-side-encryption"


def _jobs(cang, *args, timeout=120):
    """`cang admin --json jobs ARGS…`: what it printed (one document, or one report per line while watching),
    its exit code and its stderr."""
    done = admin_cli(cang.binary, "jobs", *args, data_dir=cang.data_dir, timeout=timeout)
    try:
        printed = [json.loads(done.stdout)]
    except json.JSONDecodeError:
        printed = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return printed, done.returncode, done.stderr


def _job_records(cang, job_id):
    return [r for r in cang.audit_records() if r["encryption_context"].get("job_id") == job_id]


def _read_all(cang, bucket_name, bodies):
    v2 = oss_v2_client(cang, "v4")
    v1 = oss2_bucket(cang, "v1", bucket_name)
    for key, data in bodies.items():
        got = v1.get_object(key)
        assert got.read() == data, key
        result = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
        assert result.body.read() == data, key
        yield key, got.headers


def test_a_rewrap_job_on_the_gateway_moves_every_object_and_is_audited(cang, bucket_name):
    cmk = cang.create_key()
    bucket = oss2_bucket(cang, "v4", bucket_name)
    bucket.create_bucket(headers={SSE: "KMS", f"{SSE}-key-id": cmk})
    bodies = {f"o-{i:02d}": os.urandom(100 + 31 * i) for i in range(10)}
    for key, data in bodies.items():
        bucket.put_object(key, data)
    cang.admin("kms", "rotate-key", cmk)
    primary = cang.admin("kms", "describe-key", cmk)["PrimaryKeyVersion"]

    lines, code, err = _jobs(cang, "rewrap", "--key", cmk, "--bucket", bucket_name)
    assert code == 0, err
    final = lines[-1]
    assert final["state"] == "succeeded", final
    assert final["kind"] == "Rewrap"
    assert (final["progress"]["processed"], final["progress"]["kms_calls"]) == (10, 10), final
    assert final["progress"]["target"] == primary
    assert all(line["id"] == final["id"] for line in lines)

    rows = cang.admin("inventory", "--bucket", bucket_name, "--key", cmk)["entries"]
    assert [(r["key_version_id"], r["objects"]) for r in rows] == [(primary, 10)]
    for _, headers in _read_all(cang, bucket_name, bodies):
        assert headers[SSE] == "KMS" and headers[f"{SSE}-key-id"] == cmk

    records = _job_records(cang, final["id"])
    assert [(r["operation"], r["result"]) for r in records] == [("RewrapJob", "started"), ("RewrapJob", "ok")]
    assert records[1]["encryption_context"]["processed"] == "10"
    assert all(r["principal"] == "gateway" and r["key_id"] == cmk for r in records)

    shown, code, err = _jobs(cang, "show", final["id"])
    assert code == 0, err
    assert shown[0]["state"] == "succeeded"


def test_an_encrypt_existing_job_is_cancelled_midway_and_finishes_when_started_again(cang, bucket_name):
    bucket = oss2_bucket(cang, "v4", bucket_name)
    bucket.create_bucket()
    bodies = {f"p-{i:02d}": os.urandom(50 + 17 * i) for i in range(12)}
    for key, data in bodies.items():
        bucket.put_object(key, data)

    started, code, err = _jobs(cang, "encrypt-existing", "--bucket", bucket_name, "--sse", "AES256", "--rate", "2", "--detach")
    assert code == 0, err
    job = started[0]
    assert job["state"] == "running"
    listed, code, err = _jobs(cang, "list")
    assert code == 0, err
    assert job["id"] in [j["id"] for j in listed[0]["jobs"] if j["state"] == "running"]

    cancelled, code, err = _jobs(cang, "cancel", job["id"])
    assert code == 0, err
    assert cancelled[0]["state"] == "cancelled"
    assert cancelled[0]["progress"]["processed"] < len(bodies)
    # Watching a cancelled job reports it and fails, as the job did not finish.
    watched, code, _ = _jobs(cang, "watch", job["id"])
    assert code != 0 and watched[-1]["state"] == "cancelled"

    lines, code, err = _jobs(cang, "encrypt-existing", "--bucket", bucket_name, "--sse", "AES256")
    assert code == 0, err
    final = lines[-1]
    assert final["state"] == "succeeded", final
    done = cancelled[0]["progress"]["processed"]
    assert (final["progress"]["processed"], final["progress"]["current"]) == (len(bodies) - done, done), final
    for key, headers in _read_all(cang, bucket_name, bodies):
        assert headers[SSE] == "AES256", key

    first, second = _job_records(cang, job["id"]), _job_records(cang, final["id"])
    assert [r["result"] for r in first] == ["started", "cancelled"]
    assert [r["result"] for r in second] == ["started", "ok"]
    assert all(r["operation"] == "EncryptExistingJob" for r in first + second)
    assert second[0]["encryption_context"]["bucket"] == bucket_name
    assert second[0]["encryption_context"]["target"] == "AES256"
