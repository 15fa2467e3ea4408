"""oss2 (signature V1 and V4) against `cang up`: buckets with default encryption, objects in every SSE mode, ranges,
listing, multipart, copy, append, multi-delete, and the errors and RAM/KMS denials an oss2 user would meet.

oss2 keeps its CRC-64 checks on (put, upload_part, append with init_crc, complete with part CRCs, download to
file), and every test also compares the server's CRC and ETag with values computed here.
"""

import re

import oss2
import pytest
from oss2.models import PartInfo, ServerSideEncryptionRule

from oss2_calls import expect_error
from sse_cases import BUCKET_MODES, OBJECT_MODES, SSE, SSE_KEY_ID, assert_sse, crc64, etag_of, payload
from cang_up import PART_SIZE, Credentials

SEGMENT = 64 * 1024  # the server's default SSE segment size: ranges below straddle its boundaries


@pytest.fixture
def bucket(oss2_factory, bucket_name):
    b = oss2_factory(bucket_name)
    assert b.create_bucket().status == 200
    return b


# --- buckets and bucket encryption ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", BUCKET_MODES, ids=str)
def test_create_bucket_with_sse_headers_sets_the_default_rule(oss2_factory, bucket_name, cang, cmk, mode):
    b = oss2_factory(bucket_name)
    assert b.create_bucket(headers=mode.headers(cmk)).status == 200

    rule = b.get_bucket_info().bucket_encryption_rule
    assert rule.sse_algorithm == mode.algorithm
    assert rule.kms_master_keyid == (cmk if mode.with_cmk else None)
    assert rule.kms_data_encryption == mode.expect_data
    enc = b.get_bucket_encryption()
    assert (enc.sse_algorithm, enc.kms_master_keyid, enc.kms_data_encryption) == (
        rule.sse_algorithm,
        rule.kms_master_keyid,
        rule.kms_data_encryption,
    )

    # Objects without SSE headers take the default; a header wins over it.
    data = payload(1000, mode.name.encode())
    put = b.put_object("defaulted", data)
    assert_sse(put.headers, mode, cang, cmk)
    assert b.get_object("defaulted").read() == data
    explicit = b.put_object("explicit", data, headers={SSE: "AES256"})
    assert explicit.headers.get(SSE) == "AES256"
    assert SSE_KEY_ID not in explicit.headers


def test_bucket_encryption_put_get_delete(bucket, cmk):
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule) as excinfo:
        bucket.get_bucket_encryption()
    expect_error(excinfo, 404, "NoSuchServerSideEncryptionRule")
    assert bucket.get_bucket_info().bucket_encryption_rule.sse_algorithm is None

    rule = ServerSideEncryptionRule()
    rule.sse_algorithm = "KMS"
    rule.kms_master_keyid = cmk
    rule.kms_data_encryption = "SM4"
    assert bucket.put_bucket_encryption(rule).status == 200
    got = bucket.get_bucket_encryption()
    assert (got.sse_algorithm, got.kms_master_keyid, got.kms_data_encryption) == ("KMS", cmk, "SM4")
    info = bucket.get_bucket_info().bucket_encryption_rule
    assert (info.sse_algorithm, info.kms_master_keyid, info.kms_data_encryption) == ("KMS", cmk, "SM4")
    kms_object = bucket.put_object("under-kms", b"written under the CMK")

    # A new rule replaces the old one; KMSDataEncryption is dropped for SSE-OSS (oss-api.md §5).
    rule = ServerSideEncryptionRule()
    rule.sse_algorithm = "AES256"
    rule.kms_data_encryption = "SM4"
    assert bucket.put_bucket_encryption(rule).status == 200
    got = bucket.get_bucket_encryption()
    assert (got.sse_algorithm, got.kms_master_keyid, got.kms_data_encryption) == ("AES256", None, None)

    assert bucket.delete_bucket_encryption().status == 204
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        bucket.get_bucket_encryption()

    # Changing the default never touches existing objects.
    head = bucket.head_object("under-kms")
    assert (head.headers.get(SSE), head.headers.get(SSE_KEY_ID)) == ("KMS", cmk)
    assert head.etag == kms_object.etag
    assert bucket.get_object("under-kms").read() == b"written under the CMK"
    assert SSE not in bucket.put_object("after-delete", b"plain").headers

    # DeleteBucketEncryption answers 204 also when there is no rule (oss-api.md §5.3).
    assert bucket.delete_bucket_encryption().status == 204, "deleting an absent rule also succeeds"


def test_delete_bucket(oss2_factory, bucket_name):
    b = oss2_factory(bucket_name)
    b.create_bucket()
    b.put_object("k", b"v")
    with pytest.raises(oss2.exceptions.BucketNotEmpty) as excinfo:
        b.delete_bucket()
    expect_error(excinfo, 409, "BucketNotEmpty")
    b.delete_object("k")
    assert b.delete_bucket().status == 204
    with pytest.raises(oss2.exceptions.NoSuchBucket) as excinfo:
        b.get_bucket_info()
    expect_error(excinfo, 404, "NoSuchBucket")


# --- objects ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", OBJECT_MODES, ids=str)
def test_object_roundtrip_in_each_sse_mode(bucket, cang, cmk, mode, tmp_path):
    data = payload(3 * SEGMENT + 17, mode.name.encode())
    put = bucket.put_object("obj", data, headers=mode.headers(cmk))
    assert put.status == 200
    assert put.etag == etag_of(data)
    assert put.crc == crc64(data)
    assert_sse(put.headers, mode, cang, cmk)

    got = bucket.get_object("obj")
    assert got.read() == data
    assert got.server_crc == crc64(data)
    assert got.client_crc == got.server_crc
    assert got.etag == etag_of(data)
    assert got.content_length == len(data)
    assert_sse(got.headers, mode, cang, cmk)

    # get_object_to_file compares the whole-object CRC and raises InconsistentError on mismatch.
    target = tmp_path / "obj"
    bucket.get_object_to_file("obj", str(target))
    assert target.read_bytes() == data

    head = bucket.head_object("obj")
    assert head.content_length == len(data)
    assert head.etag == etag_of(data)
    assert head.server_crc == crc64(data)
    assert head.object_type == "Normal"
    assert_sse(head.headers, mode, cang, cmk)
    assert bucket.get_object_meta("obj").content_length == len(data)
    assert bucket.object_exists("obj")

    assert bucket.delete_object("obj").status == 204
    assert not bucket.object_exists("obj")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("obj")
    assert bucket.delete_object("obj").status == 204, "deleting an absent key succeeds"


@pytest.mark.parametrize("mode", [OBJECT_MODES[0], OBJECT_MODES[2], OBJECT_MODES[6]], ids=str)
def test_range_reads(bucket, cang, cmk, mode):
    data = payload(3 * SEGMENT + 100, b"ranges")
    size = len(data)
    bucket.put_object("ranged", data, headers=mode.headers(cmk))
    cases = [
        ((0, 0), 0, 0),
        ((SEGMENT - 1, SEGMENT), SEGMENT - 1, SEGMENT),
        ((SEGMENT - 10, 2 * SEGMENT + 10), SEGMENT - 10, 2 * SEGMENT + 10),
        ((2 * SEGMENT, None), 2 * SEGMENT, size - 1),
        ((None, 10), size - 10, size - 1),
        ((size - 1, size - 1), size - 1, size - 1),
    ]
    for byte_range, first, last in cases:
        got = bucket.get_object("ranged", byte_range=byte_range)
        assert got.status == 206, byte_range
        assert got.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert got.read() == data[first : last + 1], byte_range
        assert_sse(got.headers, mode, cang, cmk)

    # Legacy OSS behaviour: an unsatisfiable range is ignored and the whole object returned.
    whole = bucket.get_object("ranged", byte_range=(size, size + 10))
    assert whole.status == 200
    assert whole.read() == data
    # With x-oss-range-behavior: standard the end is clamped and a start past the end is 416.
    standard = {"x-oss-range-behavior": "standard"}
    clamped = bucket.get_object("ranged", byte_range=(size - 5, size + 100), headers=standard)
    assert clamped.status == 206
    assert clamped.read() == data[-5:]
    with pytest.raises(oss2.exceptions.ServerError) as excinfo:
        bucket.get_object("ranged", byte_range=(size, size + 1), headers=standard)
    expect_error(excinfo, 416, "InvalidRange")


LIST_KEYS = ["a/1", "a/2", "a/b/3", "a/x y+z", "c", "d/4"]


def test_list_objects_v1_and_v2(bucket):
    for i, key in enumerate(LIST_KEYS):
        bucket.put_object(key, payload(i + 1, key.encode()))

    v1 = bucket.list_objects(prefix="a/", delimiter="/")
    assert [o.key for o in v1.object_list] == ["a/1", "a/2", "a/x y+z"]
    assert v1.prefix_list == ["a/b/"]
    assert not v1.is_truncated
    first = v1.object_list[0]
    assert (first.size, first.etag, first.type) == (1, etag_of(payload(1, b"a/1")), "Normal")
    top = bucket.list_objects(delimiter="/")
    assert ([o.key for o in top.object_list], top.prefix_list) == (["c"], ["a/", "d/"])
    page = bucket.list_objects(max_keys=2)
    assert [o.key for o in page.object_list] == LIST_KEYS[:2]
    assert page.is_truncated and page.next_marker
    assert [o.key for o in oss2.ObjectIterator(bucket, max_keys=2)] == LIST_KEYS
    assert [o.key for o in oss2.ObjectIterator(bucket, marker="a/b/3")] == LIST_KEYS[3:]

    v2 = bucket.list_objects_v2(prefix="a/", delimiter="/")
    assert [o.key for o in v2.object_list] == ["a/1", "a/2", "a/x y+z"]
    assert v2.prefix_list == ["a/b/"]
    top2 = bucket.list_objects_v2(delimiter="/")
    assert ([o.key for o in top2.object_list], top2.prefix_list) == (["c"], ["a/", "d/"])
    page2 = bucket.list_objects_v2(max_keys=2)
    assert page2.is_truncated and page2.next_continuation_token
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, max_keys=2)] == LIST_KEYS
    assert [o.key for o in bucket.list_objects_v2(start_after="a/b/3").object_list] == LIST_KEYS[3:]
    sizes = {o.key: o.size for o in bucket.list_objects_v2(prefix="a/").object_list}
    assert sizes == {"a/1": 1, "a/2": 2, "a/b/3": 3, "a/x y+z": 4}


def test_multipart_upload_with_sse(bucket, cang, cmk):
    mode = OBJECT_MODES[6]  # KMS with the test CMK
    data = payload(2 * PART_SIZE + 1234, b"multipart")
    init = bucket.init_multipart_upload("mp", headers=mode.headers(cmk))
    assert_sse(init.headers, mode, cang, cmk)
    upload_id = init.upload_id

    with pytest.raises(oss2.exceptions.InvalidArgument) as excinfo:
        bucket.upload_part("mp", upload_id, 1, data[:PART_SIZE], headers={SSE: "AES256"})
    expect_error(excinfo, 400, "InvalidArgument")

    parts = []
    for number, start in enumerate(range(0, len(data), PART_SIZE), start=1):
        chunk = data[start : start + PART_SIZE]
        result = bucket.upload_part("mp", upload_id, number, chunk)
        assert result.etag == etag_of(chunk)
        assert result.crc == crc64(chunk)
        assert_sse(result.headers, mode, cang, cmk)
        parts.append(PartInfo(number, result.etag, size=len(chunk), part_crc=result.crc))
    listed = bucket.list_parts("mp", upload_id)
    assert [(p.part_number, p.etag, p.size) for p in listed.parts] == [(p.part_number, p.etag, p.size) for p in parts]

    with pytest.raises(oss2.exceptions.InvalidArgument):
        bucket.complete_multipart_upload("mp", upload_id, parts, headers={SSE: "AES256"})
    # With part CRCs and sizes oss2 checks the combined CRC the server returns.
    done = bucket.complete_multipart_upload("mp", upload_id, parts)
    assert done.crc == crc64(data)
    assert_sse(done.headers, mode, cang, cmk)

    # The ETag of Complete travels in its XML body, which oss2 does not read: take it from HEAD.
    head = bucket.head_object("mp")
    assert re.fullmatch(r"[0-9A-F]{32}-3", head.etag), head.etag
    assert (head.content_length, head.object_type) == (len(data), "Multipart")
    assert_sse(head.headers, mode, cang, cmk)
    got = bucket.get_object("mp")
    assert got.read() == data
    assert got.server_crc == crc64(data)
    across = bucket.get_object("mp", byte_range=(PART_SIZE - 3, PART_SIZE + 2))
    assert across.read() == data[PART_SIZE - 3 : PART_SIZE + 3]
    with pytest.raises(oss2.exceptions.NoSuchUpload) as excinfo:
        bucket.list_parts("mp", upload_id)
    expect_error(excinfo, 404, "NoSuchUpload")


def test_resumable_upload_and_abort(bucket, cang, cmk, tmp_path):
    mode = OBJECT_MODES[2]  # SM4
    data = payload(3 * PART_SIZE + 7, b"resumable")
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    result = oss2.resumable_upload(
        bucket,
        "resumed",
        str(source),
        store=oss2.ResumableStore(root=str(tmp_path)),
        headers=mode.headers(cmk),
        multipart_threshold=PART_SIZE,
        part_size=PART_SIZE,
        num_threads=2,
    )
    assert result.status == 200
    head = bucket.head_object("resumed")
    assert re.fullmatch(r"[0-9A-F]{32}-4", head.etag), head.etag
    assert (head.object_type, head.content_length, head.server_crc) == ("Multipart", len(data), crc64(data))
    assert_sse(head.headers, mode, cang, cmk)
    target = tmp_path / "back.bin"
    bucket.get_object_to_file("resumed", str(target))
    assert target.read_bytes() == data

    upload_id = bucket.init_multipart_upload("aborted").upload_id
    bucket.upload_part("aborted", upload_id, 1, b"x" * 10)
    assert [u.upload_id for u in oss2.MultipartUploadIterator(bucket)] == [upload_id]
    assert bucket.abort_multipart_upload("aborted", upload_id).status == 204
    assert list(oss2.MultipartUploadIterator(bucket)) == []
    assert not bucket.object_exists("aborted")


def test_copy_object_does_not_inherit_sse(oss2_factory, bucket, cang, cmk):
    data = payload(SEGMENT + 5, b"copy")
    bucket.put_object("src", data, headers={SSE: "KMS", SSE_KEY_ID: cmk})

    plain = bucket.copy_object(bucket.bucket_name, "src", "plain-copy")
    assert plain.etag == etag_of(data)
    assert SSE not in plain.headers
    head = bucket.head_object("plain-copy")
    assert SSE not in head.headers and head.server_crc == crc64(data)
    assert bucket.get_object("plain-copy").read() == data

    aes = bucket.copy_object(bucket.bucket_name, "src", "aes-copy", headers={SSE: "AES256"})
    assert aes.headers.get(SSE) == "AES256" and SSE_KEY_ID not in aes.headers
    assert bucket.head_object("aes-copy").headers.get(SSE) == "AES256"
    assert bucket.get_object("aes-copy").read() == data

    # Into another bucket whose default is SM4: the destination default applies.
    dest = oss2_factory(f"{bucket.bucket_name}-d")
    dest.create_bucket(headers={SSE: "SM4"})
    copied = dest.copy_object(bucket.bucket_name, "src", "dir/copied")
    assert copied.headers.get(SSE) == "SM4"
    got = dest.get_object("dir/copied")
    assert got.read() == data
    assert got.headers.get(SSE) == "SM4" and got.server_crc == crc64(data)

    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.copy_object(bucket.bucket_name, "missing", "never")


def test_append_object(bucket, cang, cmk):
    kms = OBJECT_MODES[4]
    first = bucket.append_object("log", 0, b"abc", headers=kms.headers(cmk))
    assert (first.next_position, first.crc) == (3, crc64(b"abc"))
    assert_sse(first.headers, kms, cang, cmk)
    # SSE is fixed by the first append; a later header does not change it. init_crc makes oss2 check the CRC.
    second = bucket.append_object("log", 3, b"defg", headers={SSE: "AES256"}, init_crc=first.crc)
    assert (second.next_position, second.crc) == (7, crc64(b"abcdefg"))
    assert_sse(second.headers, kms, cang, cmk)

    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as excinfo:
        bucket.append_object("log", 5, b"x")
    expect_error(excinfo, 409, "PositionNotEqualToLength")
    assert excinfo.value.headers.get("x-oss-next-append-position") == "7"

    got = bucket.get_object("log")
    assert got.read() == b"abcdefg"
    assert got.headers.get("x-oss-object-type") == "Appendable"
    assert got.headers.get("x-oss-next-append-position") == "7"
    assert_sse(got.headers, kms, cang, cmk)

    bucket.put_object("normal", b"n")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable) as excinfo:
        bucket.append_object("normal", 1, b"more")
    expect_error(excinfo, 409, "ObjectNotAppendable")


def test_delete_multiple_objects(bucket):
    keys = ["one", "dir/two", "three four+five"]
    for key in keys:
        bucket.put_object(key, b"x")
    result = bucket.batch_delete_objects(keys + ["never-existed"])
    assert sorted(result.deleted_keys) == sorted(keys + ["never-existed"])
    assert bucket.list_objects().object_list == []


# --- errors, RAM and KMS ----------------------------------------------------------------------------------------


def test_missing_key_and_bucket(bucket, oss2_factory):
    with pytest.raises(oss2.exceptions.NoSuchKey) as excinfo:
        bucket.get_object("absent")
    expect_error(excinfo, 404, "NoSuchKey")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("absent")  # the code travels in x-oss-err
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object_meta("absent")

    missing = oss2_factory(f"{bucket.bucket_name}-none")
    with pytest.raises(oss2.exceptions.NoSuchBucket) as excinfo:
        missing.get_object("k")
    expect_error(excinfo, 404, "NoSuchBucket")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        missing.put_object("k", b"v")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        missing.head_object("k")


def test_invalid_sse_algorithm(bucket, oss2_factory):
    with pytest.raises(oss2.exceptions.InvalidEncryptionAlgorithmError) as excinfo:
        bucket.put_object("k", b"v", headers={SSE: "DES"})
    expect_error(excinfo, 400, "InvalidEncryptionAlgorithmError")
    assert not bucket.object_exists("k")

    rule = ServerSideEncryptionRule()
    rule.sse_algorithm = "random"
    with pytest.raises(oss2.exceptions.InvalidEncryptionAlgorithmError):
        bucket.put_bucket_encryption(rule)

    fresh = oss2_factory(f"{bucket.bucket_name}-bad")
    with pytest.raises(oss2.exceptions.InvalidEncryptionAlgorithmError):
        fresh.create_bucket(headers={SSE: "aes256"})


def test_wrong_secret_is_signature_mismatch(bucket, cang, oss2_factory):
    forged = oss2_factory(bucket.bucket_name, Credentials(cang.root.access_key_id, "not-the-secret"))
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as excinfo:
        forged.put_object("k", b"v")
    expect_error(excinfo, 403, "SignatureDoesNotMatch")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        forged.get_bucket_info()
    assert not bucket.object_exists("k")


def test_ram_user_without_policy_is_denied(bucket, cang, oss2_factory, tmp_path):
    bucket.put_object("k", b"v")
    nobody = oss2_factory(bucket.bucket_name, cang.ram_user([], tmp_path))
    for call in (lambda: nobody.get_object("k"), lambda: nobody.put_object("k2", b"v"), nobody.get_bucket_info):
        with pytest.raises(oss2.exceptions.AccessDenied) as excinfo:
            call()
        expect_error(excinfo, 403, "AccessDenied")


def test_ram_kms_permissions_for_a_cmk_bucket(oss2_factory, bucket_name, cang, cmk, tmp_path):
    """The seed's RAM examples: upload under a CMK needs kms:GenerateDataKey, download needs kms:Decrypt."""
    owner = oss2_factory(bucket_name)
    owner.create_bucket(headers={SSE: "KMS", SSE_KEY_ID: cmk})
    account = cang.account_id()
    oss_objects = {
        "Effect": "Allow",
        "Action": ["oss:PutObject", "oss:GetObject"],
        "Resource": [f"acs:oss:*:{account}:{bucket_name}/*"],
    }

    def kms(*actions):
        return {"Effect": "Allow", "Action": list(actions), "Resource": [f"acs:kms:*:{account}:*"]}

    no_gdk = oss2_factory(bucket_name, cang.ram_user([oss_objects, kms("kms:List*", "kms:DescribeKey")], tmp_path))
    with pytest.raises(oss2.exceptions.AccessDenied) as excinfo:
        no_gdk.put_object("secret", b"classified")
    err = expect_error(excinfo, 403, "AccessDenied")
    assert "forbidden by kms" in err.message, err.message
    assert not owner.object_exists("secret")

    writer_key = cang.ram_user([oss_objects, kms("kms:List*", "kms:DescribeKey", "kms:GenerateDataKey")], tmp_path)
    writer = oss2_factory(bucket_name, writer_key)
    put = writer.put_object("secret", b"classified")
    assert (put.headers.get(SSE), put.headers.get(SSE_KEY_ID)) == ("KMS", cmk)
    with pytest.raises(oss2.exceptions.AccessDenied) as excinfo:
        writer.get_object("secret")
    assert "forbidden by kms" in expect_error(excinfo, 403, "AccessDenied").message

    reader = oss2_factory(bucket_name, cang.ram_user([oss_objects, kms("kms:Decrypt")], tmp_path))
    assert reader.get_object("secret").read() == b"classified"


def test_disabled_cmk_is_key_disabled(oss2_factory, bucket_name, cang):
    key = cang.create_key()
    b = oss2_factory(bucket_name)
    b.create_bucket(headers={SSE: "KMS", SSE_KEY_ID: key})
    b.put_object("k", b"under a key about to be disabled")

    cang.admin("kms", "disable-key", key)
    try:
        for call in (lambda: b.put_object("k2", b"v"), lambda: b.get_object("k")):
            with pytest.raises(oss2.exceptions.ServerError) as excinfo:
                call()
            err = expect_error(excinfo, 409, "KeyDisabled")
            assert "Disabled" in err.message, err.message
        assert not b.object_exists("k2")
    finally:
        cang.admin("kms", "enable-key", key)
    assert b.get_object("k").read() == b"under a key about to be disabled"
    assert b.put_object("k2", b"v").headers.get(SSE_KEY_ID) == key
