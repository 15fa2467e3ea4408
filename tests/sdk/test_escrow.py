"""Root-key escrow against a real `cang up`: the root key is split 3-of-5 with `cang admin root-key split`, the key
file is destroyed, and three of the shares rebuild it with `cang admin root-key combine`; the instance starts
again on it and every object (plain, AES256, SM4, KMS) reads back byte-exact through oss2. Two shares are refused,
and an instance given a different root key refuses to start, saying why.
"""

import os

import pytest

from cang_up import StartupError, admin_cli, oss2_bucket, running

SSE = "x-oss-server-side-encryption"


def _root_key(binary, *args):
    return admin_cli(binary, "root-key", *args, timeout=30)


def test_three_of_five_shares_rebuild_the_root_key_and_the_instance_reads_everything(bin_dir, tmp_path):
    binary = bin_dir / "cang"
    data_dir = tmp_path / "instance"
    bodies = {}
    with running(binary, data_dir) as cang:
        bucket = oss2_bucket(cang, "v4", "escrowed")
        bucket.create_bucket()
        for mode in ("", "AES256", "SM4", "KMS"):
            key, data = f"object-{mode or 'plain'}", os.urandom(70_000)
            bucket.put_object(key, data, headers={SSE: mode} if mode else None)
            bodies[key] = data
        credentials = cang.root

    shares = tmp_path / "shares"
    split = _root_key(binary, "split", "--root-key-file", str(data_dir / "root.key"), "--threshold", "3", "--shares", "5", "--out-dir", str(shares))
    assert split.returncode == 0, split.stderr
    files = sorted(shares.iterdir())
    assert len(files) == 5
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in files)
    original = (data_dir / "root.key").read_bytes()
    (data_dir / "root.key").unlink()

    too_few = _root_key(binary, "combine", "--out", str(data_dir / "root.key"), str(files[0]), str(files[1]))
    assert too_few.returncode != 0 and "needed" in too_few.stderr, too_few.stderr
    assert not (data_dir / "root.key").exists()

    combine = _root_key(binary, "combine", "--out", str(data_dir / "root.key"), str(files[0]), str(files[2]), str(files[4]))
    assert combine.returncode == 0, combine.stderr
    assert (data_dir / "root.key").read_bytes().strip().lower() == original.strip().lower()

    with running(binary, data_dir) as cang:
        assert cang.root == credentials
        bucket = oss2_bucket(cang, "v1", "escrowed")
        for key, data in bodies.items():
            assert bucket.get_object(key).read() == data, key


def test_an_instance_on_another_root_key_refuses_to_start(bin_dir, tmp_path):
    binary = bin_dir / "cang"
    data_dir = tmp_path / "instance"
    with running(binary, data_dir) as cang:
        oss2_bucket(cang, "v4", "sealed").create_bucket()
    key_file = data_dir / "root.key"
    key_file.unlink()
    key_file.write_text(os.urandom(32).hex())
    key_file.chmod(0o600)
    with pytest.raises(StartupError) as refused:
        with running(binary, data_dir):
            pass
    assert "root key" in str(refused.value).lower(), str(refused.value)
