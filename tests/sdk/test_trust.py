"""Who may touch what, as the real SDKs meet it: multi-deletes delete exactly the keys they name (oss2 and
alibabacloud-oss-v2 both send `encoding-type=url`, which is about the response only) and only the keys the caller
may delete; object ACLs decide for anonymous readers; response overrides need a signature; identity policies
refuse `Principal`; unknown buckets answer NoSuchBucket to anyone; the v2 EncryptionClient's multipart upload
round-trips its client-side-encryption metadata.
"""

import json
import os

import alibabacloud_oss_v2 as oss
import oss2
import pytest
import requests

from cang_up import PART_SIZE, Credentials
from oss_v2_calls import M, create_bucket

# Keys a decoding server confuses with their siblings.
NAMED = ["p/a%2Fb", "p/c%25d", "p/e%20f", "p/g+h", "p/i&j", "p/k l", "p/%"]
SIBLINGS = ["p/a/b", "p/c%d", "p/e f", "p/g h", "p/ij", "p/kl"]


def seed(bucket, keys):
    for key in keys:
        bucket.put_object(key, key.encode())


def remaining(bucket):
    return sorted(o.key for o in oss2.ObjectIterator(bucket))


def test_oss2_batch_delete_deletes_the_named_keys_and_spares_their_siblings(oss2_factory, bucket_name):
    bucket = oss2_factory(bucket_name)
    bucket.create_bucket()
    seed(bucket, NAMED + SIBLINGS)
    result = bucket.batch_delete_objects(NAMED)
    assert sorted(result.deleted_keys) == sorted(NAMED), "the response names the keys that were asked for"
    assert remaining(bucket) == sorted(SIBLINGS)
    # A cleanup loop that deletes what it listed terminates.
    bucket.batch_delete_objects(remaining(bucket))
    assert remaining(bucket) == []


@pytest.mark.parametrize("encoding", [None, "url"])
def test_oss_v2_delete_multiple_objects_is_exact(oss_v2_factory, bucket_name, encoding):
    client = oss_v2_factory()
    create_bucket(client, bucket_name)
    for key in NAMED + SIBLINGS:
        client.put_object(M.PutObjectRequest(bucket=bucket_name, key=key, body=key.encode()))
    result = client.delete_multiple_objects(
        M.DeleteMultipleObjectsRequest(
            bucket=bucket_name,
            encoding_type=encoding,
            delete=M.Delete(objects=[M.ObjectIdentifier(key=k) for k in NAMED]),
        )
    )
    assert sorted(d.key for d in result.deleted_objects) == sorted(NAMED)
    listed = client.list_objects_v2(M.ListObjectsV2Request(bucket=bucket_name, encoding_type="url"))
    assert sorted(o.key for o in listed.contents) == sorted(SIBLINGS)


DENY_PROTECTED = [
    {"Effect": "Allow", "Action": "oss:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "oss:DeleteObject", "Resource": "acs:oss:*:*:*/protected/*"},
]


def test_batch_delete_cannot_pass_a_deny(oss2_factory, bucket_name, cang, tmp_path):
    owner = oss2_factory(bucket_name)
    owner.create_bucket()
    seed(owner, ["protected/report", "scratch/a", "scratch/b"])
    user = oss2_factory(bucket_name, cang.ram_user(DENY_PROTECTED, tmp_path))
    with pytest.raises(oss2.exceptions.AccessDenied):
        user.delete_object("protected/report")
    with pytest.raises(oss2.exceptions.AccessDenied):
        user.batch_delete_objects(["scratch/a", "protected/report"])
    assert remaining(owner) == ["protected/report", "scratch/a", "scratch/b"], "a refused batch deletes nothing"
    assert user.batch_delete_objects(["scratch/a", "scratch/b"]).deleted_keys == ["scratch/a", "scratch/b"]
    assert remaining(owner) == ["protected/report"]


def test_object_acls_are_enforced_for_anonymous_readers(oss2_factory, bucket_name):
    owner = oss2_factory(bucket_name)
    owner.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    owner.put_object("open", b"open")
    owner.put_object("secret", b"secret", headers={"x-oss-object-acl": "private"})
    anonymous = oss2.Bucket(oss2.AnonymousAuth(), owner.endpoint, bucket_name)
    assert anonymous.get_object("open").read() == b"open"
    with pytest.raises(oss2.exceptions.AccessDenied):
        anonymous.get_object("secret")
    assert sorted(o.key for o in oss2.ObjectIterator(anonymous)) == ["open", "secret"], "anonymous ListObjects"

    owner.put_bucket_acl(oss2.BUCKET_ACL_PRIVATE)
    owner.put_object_acl("open", oss2.OBJECT_ACL_PUBLIC_READ)
    assert anonymous.get_object("open").read() == b"open", "a public-read object in a private bucket"
    with pytest.raises(oss2.exceptions.AccessDenied):
        list(oss2.ObjectIterator(anonymous))


def test_response_overrides_need_a_signed_request(oss2_factory, bucket_name):
    owner = oss2_factory(bucket_name)
    owner.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    owner.put_object("note.txt", b"<script>alert(1)</script>", headers={"Content-Type": "text/plain"})
    params = {"response-content-type": "text/html", "response-content-disposition": "inline"}
    url = f"{owner.endpoint}/{bucket_name}/note.txt"
    anonymous = requests.get(url, params=params, timeout=10)
    assert anonymous.status_code == 400
    assert "<Code>InvalidRequest</Code>" in anonymous.text
    assert requests.get(url, timeout=10).headers["Content-Type"] == "text/plain"
    signed = owner.get_object("note.txt", params=params)
    assert signed.headers["Content-Type"] == "text/html"


def test_identity_policies_with_principal_are_refused(cang, tmp_path):
    doc = tmp_path / "principal.json"
    doc.write_text(
        json.dumps(
            {
                "Version": "1",
                "Statement": [{"Effect": "Deny", "Action": "oss:*", "Resource": "*", "Principal": "*"}],
            }
        )
    )
    with pytest.raises(AssertionError) as excinfo:
        cang.admin("policy", "put", "with-principal", "--file", str(doc))
    assert "Principal" in str(excinfo.value)


def test_unknown_buckets_answer_no_such_bucket_to_anyone(cang, bucket_name, tmp_path, oss_v2_factory):
    stranger = oss_v2_factory(Credentials("LTAInobody00000000000000", "not-a-secret"))
    nobody = oss_v2_factory(cang.ram_user([], tmp_path))
    create_bucket(oss_v2_factory(), bucket_name)
    for client in (stranger, nobody):
        assert client.is_bucket_exist(f"{bucket_name}-missing") is False
        assert client.is_bucket_exist(bucket_name) is True
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        stranger.get_object_meta(M.GetObjectMetaRequest(bucket=f"{bucket_name}-missing", key="k"))
    assert excinfo.value.unwrap().code == "NoSuchBucket"


def rsa_cipher():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    return oss.crypto.MasterRsaCipher(mat_desc={"tag": "cang"}, public_key=public, private_key=private)


def test_oss_v2_encryption_client_multipart_round_trips(oss_v2_factory, bucket_name):
    client = oss_v2_factory()
    create_bucket(client, bucket_name, {"x-oss-server-side-encryption": "AES256"})
    eclient = oss.EncryptionClient(client, rsa_cipher())
    data = os.urandom(PART_SIZE * 2 + 1234)
    init = eclient.initiate_multipart_upload(
        M.InitiateMultipartUploadRequest(
            bucket=bucket_name, key="cse", cse_part_size=PART_SIZE, cse_data_size=len(data)
        )
    )
    parts = []
    for number, offset in enumerate(range(0, len(data), PART_SIZE), start=1):
        part = eclient.upload_part(
            M.UploadPartRequest(
                bucket=bucket_name,
                key="cse",
                upload_id=init.upload_id,
                part_number=number,
                cse_multipart_context=init.cse_multipart_context,
                body=data[offset : offset + PART_SIZE],
            )
        )
        parts.append(M.UploadPart(part_number=number, etag=part.etag))
    eclient.complete_multipart_upload(
        M.CompleteMultipartUploadRequest(
            bucket=bucket_name,
            key="cse",
            upload_id=init.upload_id,
            complete_multipart_upload=M.CompleteMultipartUpload(parts=parts),
        )
    )
    head = client.head_object(M.HeadObjectRequest(bucket=bucket_name, key="cse"))
    assert head.metadata.get("client-side-encryption-key"), head.metadata
    assert head.server_side_encryption == "AES256"
    assert eclient.get_object(M.GetObjectRequest(bucket=bucket_name, key="cse")).body.read() == data
    raw = client.get_object(M.GetObjectRequest(bucket=bucket_name, key="cse")).body.read()
    assert raw != data and len(raw) == len(data), "stored client-side ciphertext, decrypted only by the client"
