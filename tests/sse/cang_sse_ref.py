"""An independent implementation of Cang's object encryption format, written from docs/format.md alone.

It shares no code with the Rust crate: it exists to prove that the document is complete and that the crate
follows it.
"""

import math
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LABEL = b"cang/sse/v1"
SUITES = {1: ("AES-256-GCM", 32), 2: ("SM4-GCM", 16)}
TAG = 16
RECORD_LEN = 61


class IntegrityError(Exception):
    """The ciphertext or its metadata is not what was written."""


def subkey(dek, suite, segment_size, salt, context):
    info = LABEL + bytes([suite]) + struct.pack(">I", segment_size) + context
    return HKDF(algorithm=hashes.SHA256(), length=SUITES[suite][1], salt=salt, info=info).derive(dek)


def _block(suite, key):
    return algorithms.AES(key) if suite == 1 else algorithms.SM4(key)


def _nonce(prefix, index, last):
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def seal_segment(suite, key, prefix, index, last, plaintext):
    enc = Cipher(_block(suite, key), modes.GCM(_nonce(prefix, index, last))).encryptor()
    body = enc.update(plaintext) + enc.finalize()
    return body + enc.tag


def open_segment(suite, key, prefix, index, last, sealed):
    if len(sealed) < TAG:
        raise IntegrityError(f"segment {index} too short")
    body, tag = sealed[:-TAG], sealed[-TAG:]
    dec = Cipher(_block(suite, key), modes.GCM(_nonce(prefix, index, last), tag)).decryptor()
    try:
        return dec.update(body) + dec.finalize()
    except Exception as exc:  # cryptography raises InvalidTag
        raise IntegrityError(f"segment {index} failed authentication") from exc


def segment_count(length, segment_size):
    return max(1, math.ceil(length / segment_size))


def encode_record(suite, segment_size, salt, prefix, length):
    n = segment_count(length, segment_size)
    return bytes([1, suite]) + struct.pack(">I", segment_size) + salt + prefix + struct.pack(">QQ", length, n)


def decode_record(record):
    if len(record) != RECORD_LEN:
        raise IntegrityError("record length")
    version, suite = record[0], record[1]
    (segment_size,) = struct.unpack(">I", record[2:6])
    salt, prefix = record[6:38], record[38:45]
    length, n = struct.unpack(">QQ", record[45:61])
    if version != 1 or suite not in SUITES or not 16 <= segment_size <= 1 << 24:
        raise IntegrityError("bad record")
    if n != segment_count(length, segment_size) or n > 1 << 32:
        raise IntegrityError("segment count")
    return suite, segment_size, salt, prefix, length


def encrypt(dek, suite, segment_size, salt, prefix, context, plaintext):
    """Returns (record, blob)."""
    key = subkey(dek, suite, segment_size, salt, context)
    n = segment_count(len(plaintext), segment_size)
    blob = b"".join(
        seal_segment(suite, key, prefix, i, i == n - 1, plaintext[i * segment_size:(i + 1) * segment_size])
        for i in range(n)
    )
    return encode_record(suite, segment_size, salt, prefix, len(plaintext)), blob


def decrypt(dek, record, context, blob, start=None, end=None):
    """Decrypts plaintext bytes start..end (end exclusive); the whole object when both are None."""
    suite, size, salt, prefix, length = decode_record(record)
    key = subkey(dek, suite, size, salt, context)
    n = segment_count(length, size)
    whole = start is None
    if whole:
        start, end, first, last = 0, length, 0, n - 1
        if len(blob) != length + TAG * n:
            raise IntegrityError("blob length does not match the record")
    else:
        if not 0 <= start < end <= length:
            raise ValueError("range outside the object")
        first, last = start // size, (end - 1) // size
    out = []
    for i in range(first, last + 1):
        plain_len = size if i < n - 1 else length - (n - 1) * size
        offset = i * (size + TAG)
        sealed = blob[offset:offset + plain_len + TAG]
        if len(sealed) != plain_len + TAG:
            raise IntegrityError("blob truncated")
        out.append(open_segment(suite, key, prefix, i, i == n - 1, sealed))
    data = b"".join(out)
    return data[start - first * size:end - first * size]
