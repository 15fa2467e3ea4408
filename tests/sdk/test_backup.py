"""Backup and restore against a real `cang up`: `cang admin backup` copies the metadata store and the keystore
while a client keeps writing; the data directory is destroyed; `cang admin restore` brings the backup back as a new
data directory, on which `cang up` serves every object acknowledged before the backup began — plain, AES256, SM4,
KMS and multipart — byte-exact through oss2, under the same credentials. A backup without the root key restores
only with one.
"""

import json
import os
import shutil
import threading

import oss2

from cang_up import PART_SIZE, admin_cli, oss2_bucket, running

SSE = "x-oss-server-side-encryption"


def test_a_backup_taken_under_writes_restores_every_acknowledged_object(bin_dir, tmp_path):
    binary = bin_dir / "cang"
    data_dir = tmp_path / "instance"
    before = {}
    with running(binary, data_dir) as cang:
        credentials = cang.root
        bucket = oss2_bucket(cang, "v4", "backed-up")
        bucket.create_bucket()
        for mode in ("", "AES256", "SM4", "KMS"):
            key, data = f"object-{mode or 'plain'}", os.urandom(90_000)
            bucket.put_object(key, data, headers={SSE: mode} if mode else None)
            before[key] = data
        data = os.urandom(PART_SIZE + 777)
        upload = bucket.init_multipart_upload("multipart").upload_id
        parts = []
        for n, start in enumerate(range(0, len(data), PART_SIZE), start=1):
            parts.append(oss2.models.PartInfo(n, bucket.upload_part("multipart", upload, n, data[start : start + PART_SIZE]).etag))
        bucket.complete_multipart_upload("multipart", upload, parts)
        before["multipart"] = data

        # A writer that goes on during the backup.
        stop, live = threading.Event(), {}

        def writer():
            writes = oss2_bucket(cang, "v4", "backed-up")
            i = 0
            while not stop.is_set():
                body = os.urandom(20_000)
                writes.put_object(f"live-{i}", body)
                live[f"live-{i}"] = body
                i += 1

        thread = threading.Thread(target=writer)
        thread.start()
        acknowledged_before_backup = dict(before)
        backup_dir = tmp_path / "backup"
        done = admin_cli(binary, "backup", "--to", str(backup_dir), "--include-root-key", data_dir=data_dir)
        stop.set()
        thread.join(timeout=60)
        assert done.returncode == 0, done.stderr
        manifest = json.loads(done.stdout[done.stdout.index("{") :])
        assert manifest["root_key_included"] is True
        assert manifest["meta"]["bytes"] > 0 and manifest["keystore"]["bytes"] > 0
        assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in backup_dir.iterdir())
        snapshots = [r for r in cang.audit_records() if r["operation"] == "Snapshot"]
        assert snapshots and snapshots[-1]["principal"] == "admin" and snapshots[-1]["result"] == "ok"
        # Snapshot files are streamed and removed.
        assert not [p for p in data_dir.rglob(".snapshot-*")]

    shutil.rmtree(data_dir)
    restored = tmp_path / "restored"
    done = admin_cli(binary, "restore", "--from", str(backup_dir), "--into", str(restored))
    assert done.returncode == 0, done.stderr
    with running(binary, restored) as cang:
        bucket = oss2.Bucket(oss2.Auth(credentials.access_key_id, credentials.access_key_secret), cang.endpoint, "backed-up")
        for key, data in acknowledged_before_backup.items():
            assert bucket.get_object(key).read() == data, key
        # Writes that raced the backup: whatever is there is whole and one of the acknowledged bodies.
        listed = {o.key for o in oss2.ObjectIterator(bucket, prefix="live-")}
        for key in listed:
            assert bucket.get_object(key).read() == live[key], key

        # Every restored object opens: keys unwrap, every segment authenticates, CRC-64 and MD5 match.
        verified = admin_cli(binary, "verify", "--deep", data_dir=restored)
        assert verified.returncode == 0, verified.stderr
        report = json.loads(verified.stdout)
        assert report["problems"] == [] and report["objects"] == len(acknowledged_before_backup) + len(listed), report
        assert report["decrypted_bytes"] == sum(map(len, acknowledged_before_backup.values())) + sum(len(live[k]) for k in listed)
        # A disabled master key is found: the KMS object's data key no longer unwraps.
        assert admin_cli(binary, "kms", "disable-key", "alias/acs/oss", data_dir=restored).returncode == 0
        refused = admin_cli(binary, "verify", data_dir=restored)
        assert refused.returncode != 0, refused.stdout
        problems = json.loads(refused.stdout)["problems"]
        assert [p["key"] for p in problems] == ["object-KMS"], problems
        assert "KmsDisabled" in problems[0]["problem"] or "Disabled" in problems[0]["problem"], problems
        assert admin_cli(binary, "kms", "enable-key", "alias/acs/oss", data_dir=restored).returncode == 0
        assert admin_cli(binary, "verify", data_dir=restored).returncode == 0


def test_a_backup_without_the_root_key_restores_only_with_one(bin_dir, tmp_path):
    binary = bin_dir / "cang"
    data_dir = tmp_path / "instance"
    with running(binary, data_dir) as cang:
        oss2_bucket(cang, "v4", "keyless").create_bucket()
        backup_dir = tmp_path / "backup"
        done = admin_cli(binary, "backup", "--to", str(backup_dir), data_dir=data_dir)
        assert done.returncode == 0, done.stderr
    assert not (backup_dir / "root.key").exists()
    refused = admin_cli(binary, "restore", "--from", str(backup_dir), "--into", str(tmp_path / "nokey"))
    assert refused.returncode != 0 and "root key" in refused.stderr, refused.stderr
    assert not (tmp_path / "nokey").exists()
    # A damaged backup is refused before anything is written.
    (backup_dir / "meta.redb").write_bytes(b"\0" * 64)
    damaged = admin_cli(binary, "restore", "--from", str(backup_dir), "--into", str(tmp_path / "damaged"),
                     "--root-key-file", str(data_dir / "root.key"))
    assert damaged.returncode != 0 and "damaged" in damaged.stderr, damaged.stderr
