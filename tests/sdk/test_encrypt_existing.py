"""`cang admin encrypt-existing` against a real `cang up`, with objects written, overwritten and read by the real
SDKs: a bucket of plaintext, AES256, KMS and multipart objects is brought to its new default (KMS under a CMK)
while a client overwrites some of them; the job is killed (SIGKILL) midway and resumed. Afterwards every object is
under the default, overwritten objects hold the client's new bytes, the others their old bytes, metadata and
(PutObject objects) ETags, and the appendable object is untouched.
"""

import json
import os
import random
import signal
import subprocess
import time

import alibabacloud_oss_v2 as oss
import oss2

from cang_up import PART_SIZE, oss2_bucket, oss_v2_client

SSE = "x-oss-server-side-encryption"


def _encrypt_cmd(cang, *args):
    return [str(cang.binary), "admin", "--data-dir", str(cang.data_dir), "--json", "encrypt-existing", *args]


def _populate(bucket):
    """{key: (bytes, headers it was written with)} of a mixed bucket, and the ETags the server gave."""
    objects, etags = {}, {}
    for i in range(24):
        key = f"plain-{i:02d}"
        data = os.urandom(50 + 13 * i)
        headers = {"x-oss-meta-n": str(i), "Content-Type": "text/x-test"} if i % 2 else {}
        etags[key] = bucket.put_object(key, data, headers=headers).etag
        objects[key] = (data, headers)
    for i in range(8):
        key = f"aes-{i:02d}"
        data = os.urandom(300 + i)
        etags[key] = bucket.put_object(key, data, headers={SSE: "AES256"}).etag
        objects[key] = (data, {})
    for i in range(8):
        key = f"kms-managed-{i:02d}"
        data = os.urandom(400 + i)
        etags[key] = bucket.put_object(key, data, headers={SSE: "KMS"}).etag
        objects[key] = (data, {})
    for n in range(2):
        key = f"multi-{n}"
        data = os.urandom(PART_SIZE + 999)
        upload = bucket.init_multipart_upload(key).upload_id
        parts = [
            oss2.models.PartInfo(1, bucket.upload_part(key, upload, 1, data[:PART_SIZE]).etag),
            oss2.models.PartInfo(2, bucket.upload_part(key, upload, 2, data[PART_SIZE:]).etag),
        ]
        bucket.complete_multipart_upload(key, upload, parts)
        objects[key] = (data, {})
    bucket.append_object("appendable", 0, b"first line\n")
    return objects, etags


def test_existing_objects_move_to_the_new_default_around_a_client_and_a_kill(cang, bucket_name):
    cmk = cang.create_key()
    bucket = oss2_bucket(cang, "v4", bucket_name)
    bucket.create_bucket()
    objects, etags = _populate(bucket)
    rule = oss2.models.ServerSideEncryptionRule(sse_algorithm="KMS", kms_master_keyid=cmk)
    bucket.put_bucket_encryption(rule)

    before = cang.admin("inventory", "--bucket", bucket_name)["entries"]
    assert sum(e["objects"] for e in before if not (e["sse"] == "KMS" and e["key_id"] == cmk)) == len(objects) + 1

    proc = subprocess.Popen(
        _encrypt_cmd(cang, "--bucket", bucket_name, "--to-default", "--rate", "10"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    progress = json.loads(proc.stdout.readline())
    assert progress["encrypted"] >= 1 and not progress["finished"], progress
    # A client overwrites some objects while the job runs (under the bucket's default, as any new write).
    overwritten = random.Random(7).sample(sorted(objects), 10)
    for key in overwritten[:5]:
        data = os.urandom(77)
        bucket.put_object(key, data)
        objects[key] = (data, {})
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    for key in overwritten[5:]:
        data = os.urandom(88)
        bucket.put_object(key, data)
        objects[key] = (data, {})

    done = subprocess.run(
        _encrypt_cmd(cang, "--bucket", bucket_name, "--to-default"), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout.strip().splitlines()[-1])
    assert final["finished"] and final["appendable_skipped"] == 1, final
    assert (final["sse"], final["key_id"]) == ("KMS", cmk)

    v2 = oss_v2_client(cang, "v4")
    for key, (data, headers) in objects.items():
        got = bucket.get_object(key)
        assert got.read() == data, key
        assert (got.headers[SSE], got.headers[f"{SSE}-key-id"]) == ("KMS", cmk), key
        result = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
        assert result.body.read() == data, key
        if key in overwritten:
            continue
        if "x-oss-meta-n" in headers:
            assert got.headers["x-oss-meta-n"] == headers["x-oss-meta-n"], key
            assert got.headers["Content-Type"] == "text/x-test", key
        if not key.startswith("multi"):
            assert got.headers["ETag"] == f'"{etags[key]}"'.replace('""', '"'), key
    log = bucket.get_object("appendable")
    assert log.read() == b"first line\n" and SSE not in log.headers
    after = cang.admin("inventory", "--bucket", bucket_name)["entries"]
    assert [(e["sse"], e["key_id"], e["objects"]) for e in after if e["sse"] == "KMS" and e["key_id"] == cmk] == [
        ("KMS", cmk, len(objects))
    ]
    # Done again: nothing to do.
    again = subprocess.run(
        _encrypt_cmd(cang, "--bucket", bucket_name, "--to-default"), capture_output=True, text=True, timeout=60
    )
    final = json.loads(again.stdout.strip().splitlines()[-1])
    assert final["encrypted"] == 0 and final["already_encrypted"] == len(objects), final
