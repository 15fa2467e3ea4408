"""Writes crates/sse/tests/vectors.json from the reference implementation (run by hand when adding vectors)."""

import hashlib
import json
import pathlib
import struct

import cang_sse_ref as ref


def pattern(n):
    return bytes((i * 7 + 3) % 251 for i in range(n))


def ctx(bucket, key, part):
    return bucket.encode() + b"\0" + key.encode() + b"\0" + struct.pack(">I", part)


CASES = [
    ("aes-empty", 1, 16, b"", 0),
    ("aes-three-segments", 1, 16, ctx("bkt", "dir/a b+c.txt", 0), 40),
    ("aes-exact-multiple", 1, 16, ctx("bkt", "k", 0), 32),
    ("sm4-three-segments", 2, 16, ctx("bkt", "汉字", 3), 33),
    ("sm4-empty", 2, 64, b"", 0),
    ("aes-default-segments", 1, 65536, ctx("photos", "2026/cat.jpg", 0), 200_000),
    ("sm4-default-segments", 2, 65536, ctx("photos", "2026/dog.jpg", 7), 70_000),
]


def main():
    vectors = []
    for i, (name, suite, size, context, length) in enumerate(CASES):
        dek = hashlib.sha256(b"dek" + bytes([i])).digest()
        salt = hashlib.sha256(b"salt" + bytes([i])).digest()
        prefix = hashlib.sha256(b"prefix" + bytes([i])).digest()[:7]
        plaintext = pattern(length)
        record, blob = ref.encrypt(dek, suite, size, salt, prefix, context, plaintext)
        v = {
            "name": name,
            "suite": suite,
            "segment_size": size,
            "dek": dek.hex(),
            "salt": salt.hex(),
            "nonce_prefix": prefix.hex(),
            "context": context.hex(),
            "plaintext_len": length,
            "plaintext": "pattern: byte i = (7*i + 3) mod 251",
            "subkey": ref.subkey(dek, suite, size, salt, context).hex(),
            "record": record.hex(),
            "blob_sha256": hashlib.sha256(blob).hexdigest(),
        }
        if len(blob) <= 256:
            v["blob"] = blob.hex()
        vectors.append(v)
    out = pathlib.Path(__file__).resolve().parents[2] / "crates" / "sse" / "tests" / "vectors.json"
    out.write_text(json.dumps(vectors, indent=2) + "\n")


if __name__ == "__main__":
    main()
