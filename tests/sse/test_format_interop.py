"""The Rust crate and the reference implementation of docs/format.md read each other's output."""

import hashlib
import json
import os
import pathlib
import random
import struct
import subprocess

import pytest

import cang_sse_ref as ref

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "crates" / "sse" / "tests" / "vectors.json"


def pattern(n):
    return bytes((i * 7 + 3) % 251 for i in range(n))


@pytest.fixture(scope="module")
def tool(bin_dir):
    path = bin_dir / "examples" / "sse_tool"
    if not path.exists():
        pytest.fail(f"{path} missing: cargo build --workspace --examples")
    return path


def rust_encrypt(tool, tmp_path, suite, size, dek, context, plaintext):
    src, dst = tmp_path / "plain", tmp_path / "blob"
    src.write_bytes(plaintext)
    out = subprocess.run(
        [tool, "encrypt", str(suite), str(size), dek.hex(), context.hex(), src, dst],
        check=True, capture_output=True, text=True,
    )
    return bytes.fromhex(out.stdout.strip()), dst.read_bytes()


def rust_decrypt(tool, tmp_path, dek, context, record, blob, start=None, end=None):
    src, dst = tmp_path / "blob-in", tmp_path / "plain-out"
    src.write_bytes(blob)
    if dst.exists():
        dst.unlink()
    args = [tool, "decrypt", dek.hex(), context.hex(), record.hex(), src, dst]
    if start is not None:
        args += [str(start), str(end)]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode == 3:
        assert not dst.exists(), "plaintext written despite an integrity failure"
        raise ref.IntegrityError(proc.stderr)
    assert proc.returncode == 0, proc.stderr
    return dst.read_bytes()


def test_reference_reproduces_the_vectors():
    for v in json.loads(VECTORS.read_text()):
        dek, salt = bytes.fromhex(v["dek"]), bytes.fromhex(v["salt"])
        prefix, context = bytes.fromhex(v["nonce_prefix"]), bytes.fromhex(v["context"])
        plaintext = pattern(v["plaintext_len"])
        key = ref.subkey(dek, v["suite"], v["segment_size"], salt, context)
        assert key.hex() == v["subkey"], v["name"]
        record, blob = ref.encrypt(dek, v["suite"], v["segment_size"], salt, prefix, context, plaintext)
        assert record.hex() == v["record"], v["name"]
        assert hashlib.sha256(blob).hexdigest() == v["blob_sha256"], v["name"]
        assert ref.decrypt(dek, record, context, blob) == plaintext


def test_aes_subkey_matches_rfc5869_construction():
    # HKDF by hand (RFC 5869 §2.2–2.3) to pin down that the reference uses salt/IKM/info as the spec says.
    import hmac

    dek, salt, context = b"\x11" * 32, b"\x22" * 32, b"bkt\0key\0\0\0\0\0"
    info = b"cang/sse/v1" + b"\x01" + struct.pack(">I", 65536) + context
    prk = hmac.new(salt, dek, hashlib.sha256).digest()
    okm = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    assert ref.subkey(dek, 1, 65536, salt, context) == okm


SIZES = [0, 1, 15, 16, 17, 47, 48, 49, 1000, 65535, 65536, 65537, 200_001]


@pytest.mark.parametrize("suite", [1, 2])
@pytest.mark.parametrize("size", [16, 48, 65536])
def test_rust_writes_reference_reads(tool, tmp_path, suite, size):
    rng = random.Random(suite * 1000 + size)
    for length in SIZES:
        if size == 16 and length > 5000:
            continue
        dek, context = rng.randbytes(32), rng.randbytes(rng.randint(0, 40))
        plaintext = rng.randbytes(length)
        record, blob = rust_encrypt(tool, tmp_path, suite, size, dek, context, plaintext)
        assert ref.decrypt(dek, record, context, blob) == plaintext
        if length:
            for _ in range(5):
                a, b = sorted(rng.sample(range(length + 1), 2)) if length > 1 else (0, 1)
                assert ref.decrypt(dek, record, context, blob, a, b) == plaintext[a:b]
        with pytest.raises(ref.IntegrityError):
            ref.decrypt(dek, record, context + b"x", blob)


@pytest.mark.parametrize("suite", [1, 2])
@pytest.mark.parametrize("size", [16, 48, 65536])
def test_reference_writes_rust_reads(tool, tmp_path, suite, size):
    rng = random.Random(suite * 7 + size)
    for length in SIZES:
        if size == 16 and length > 5000:
            continue
        dek, salt, prefix = rng.randbytes(32), rng.randbytes(32), rng.randbytes(7)
        context = rng.randbytes(rng.randint(0, 40))
        plaintext = rng.randbytes(length)
        record, blob = ref.encrypt(dek, suite, size, salt, prefix, context, plaintext)
        assert rust_decrypt(tool, tmp_path, dek, context, record, blob) == plaintext
        if length > 1:
            a, b = sorted(rng.sample(range(length + 1), 2))
            assert rust_decrypt(tool, tmp_path, dek, context, record, blob, a, b) == plaintext[a:b]


def test_rust_rejects_what_the_reference_would_reject(tool, tmp_path):
    rng = random.Random(99)
    dek, salt, prefix = rng.randbytes(32), rng.randbytes(32), rng.randbytes(7)
    plaintext = rng.randbytes(100)
    record, blob = ref.encrypt(dek, 1, 16, salt, prefix, b"ctx", plaintext)
    seg = 16 + 16
    cases = {
        "bit flip": blob[:40] + bytes([blob[40] ^ 1]) + blob[41:],
        "dropped segment": blob[:seg] + blob[2 * seg:],
        "duplicated segment": blob[:2 * seg] + blob[seg:],
        "swapped segments": blob[seg:2 * seg] + blob[:seg] + blob[2 * seg:],
        "truncated": blob[:3 * seg],
        "extended": blob + b"\0" * 16,
    }
    for name, tampered in cases.items():
        with pytest.raises(ref.IntegrityError):
            ref.decrypt(dek, record, b"ctx", tampered)
        with pytest.raises(ref.IntegrityError):
            rust_decrypt(tool, tmp_path, dek, b"ctx", record, tampered)
            pytest.fail(f"rust accepted: {name}")
    forged = bytearray(record)
    forged[52] ^= 1  # low byte of the plaintext length
    with pytest.raises(ref.IntegrityError):
        rust_decrypt(tool, tmp_path, dek, b"ctx", bytes(forged), blob)
