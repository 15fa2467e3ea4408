"""What both SDK suites check: the SSE request modes with the response each must produce, payloads, CRC-64/XZ.

The expectations follow docs/oss-api.md §6.1 (response header table) and §5 (bucket rules); the CRC is computed
here, independently of the server, so a matching `x-oss-hash-crc64ecma` proves the server's CRC.
"""

import dataclasses
import hashlib

import crcmod

SSE = "x-oss-server-side-encryption"
SSE_KEY_ID = "x-oss-server-side-encryption-key-id"
SSE_DATA = "x-oss-server-side-data-encryption"

# CRC-64/XZ as OSS defines it (oss-api.md §6.7): ECMA-182 polynomial, reflected, all-ones init and final XOR.
crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)
assert crc64(b"123456789") == 11051210869376104954, "CRC-64/XZ check value"
assert crc64(b"") == 0


@dataclasses.dataclass(frozen=True)
class SseMode:
    """One way to ask for encryption, and what the server must answer with it."""

    name: str
    algorithm: str | None = None  # x-oss-server-side-encryption sent
    data: str | None = None  # x-oss-server-side-data-encryption sent
    with_cmk: bool = False  # send the test CMK as x-oss-server-side-encryption-key-id
    expect_data: str | None = None  # x-oss-server-side-data-encryption expected back

    def headers(self, cmk):
        headers = {}
        if self.algorithm:
            headers[SSE] = self.algorithm
        if self.data:
            headers[SSE_DATA] = self.data
        if self.with_cmk:
            headers[SSE_KEY_ID] = cmk
        return headers

    def expected_key_id(self, cang, cmk):
        """The key id the server must report: the CMK given, else the default OSS CMK for KMS, else none."""
        if self.algorithm != "KMS":
            return None
        return cmk if self.with_cmk else cang.default_oss_key()

    def __str__(self):
        return self.name


OBJECT_MODES = [
    SseMode("none"),
    SseMode("AES256", "AES256"),
    SseMode("SM4", "SM4"),
    # The data-encryption header only means something with KMS; with AES256 it is silently ignored.
    SseMode("AES256-data-SM4", "AES256", data="SM4"),
    SseMode("KMS", "KMS"),
    SseMode("KMS-data-SM4", "KMS", data="SM4", expect_data="SM4"),
    SseMode("KMS-CMK", "KMS", with_cmk=True),
]

# Bucket defaults set by SSE headers on PutBucket, read back from GetBucketInfo (oss-api.md §4.2).
BUCKET_MODES = [
    SseMode("AES256", "AES256"),
    SseMode("SM4", "SM4"),
    SseMode("KMS", "KMS"),
    SseMode("KMS-CMK", "KMS", with_cmk=True),
    SseMode("KMS-data-SM4", "KMS", data="SM4", expect_data="SM4"),
]


def payload(size, seed=b""):
    """`size` reproducible but non-repeating bytes (a repeated pattern would hide segment mix-ups)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def etag_of(data):
    """OSS ETag of a normal object: the uppercase hex MD5 of its plaintext (quotes stripped)."""
    return hashlib.md5(data).hexdigest().upper()


def assert_sse(headers, mode, cang, cmk):
    """The SSE response headers match the mode (oss-api.md §6.1 table)."""
    assert headers.get(SSE) == mode.algorithm, dict(headers)
    assert headers.get(SSE_KEY_ID) == mode.expected_key_id(cang, cmk), dict(headers)
    assert headers.get(SSE_DATA) == mode.expect_data, dict(headers)
