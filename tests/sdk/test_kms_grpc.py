"""The crypto service's gRPC API for applications (`cang.kms.app.v1.Kms`) through Python's `grpcio`, with stubs
generated from the repository's proto by `grpcio-tools`, as an application team would: envelope encryption with a
locally used data key, bytes bound to an encryption context, RAM policies on every key use, access-key signatures
(wrong secret, unknown key, replayed nonce, skewed clock, unsigned call), a foreign account's key, the health
service and reflection; key uses audited with the end user and their address, and the audit log's chain intact.
"""

import datetime
import hashlib
import hmac
import importlib
import os
import pathlib
import re
import sys
import time
import uuid

import grpc
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from cang_up import Credentials

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"
PROTO = "cang/kms/app/v1/application.proto"
SERVICE = "cang.kms.app.v1.Kms"


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    """`application_pb2` and `application_pb2_grpc`, generated now from the proto."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("stubs")
    status = protoc.main(
        ["protoc", f"-I{PROTO_ROOT}", f"--python_out={out}", f"--grpc_python_out={out}", str(PROTO_ROOT / PROTO)]
    )
    assert status == 0, "protoc failed"
    sys.path.insert(0, str(out))
    try:
        pb2 = importlib.import_module("cang.kms.app.v1.application_pb2")
        pb2_grpc = importlib.import_module("cang.kms.app.v1.application_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    return pb2, pb2_grpc


@pytest.fixture(scope="module")
def channel(cang):
    assert cang.kms_grpc_endpoint, "credentials.env names no KMS_GRPC_ENDPOINT"
    ca = pathlib.Path(cang.kms_grpc_ca).read_bytes()
    with grpc.secure_channel(cang.kms_grpc_endpoint, grpc.ssl_channel_credentials(root_certificates=ca)) as ch:
        yield ch


def signed(credentials, method, date=None, nonce=None):
    """The call metadata: the access key, time and nonce, and the HMAC-SHA256 over them and the method path."""
    date = date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    nonce = nonce or uuid.uuid4().hex
    path = f"/{SERVICE}/{method}"
    to_sign = f"CANG-HMAC-SHA256\n{path}\n{date}\n{nonce}"
    signature = hmac.new(credentials.access_key_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return [
        ("x-cang-access-key-id", credentials.access_key_id),
        ("x-cang-date", date),
        ("x-cang-nonce", nonce),
        ("x-cang-signature", signature),
    ]


class App:
    """The service through the generated stub, each call signed for `credentials`."""

    def __init__(self, stubs, channel, credentials):
        self.pb2, pb2_grpc = stubs
        self.stub = pb2_grpc.KmsStub(channel)
        self.credentials = credentials

    def __getattr__(self, method):
        def call(**fields):
            request_type = {
                "GenerateDataKey": "GenerateDataKeyRequest",
                "GenerateDataKeyWithoutPlaintext": "GenerateDataKeyRequest",
            }.get(method, f"{method}Request")
            request = getattr(self.pb2, request_type)(**fields)
            return getattr(self.stub, method)(request, metadata=signed(self.credentials, method), timeout=10)

        return call


def refused(fn, **fields):
    with pytest.raises(grpc.RpcError) as err:
        fn(**fields)
    trailers = dict(err.value.trailing_metadata() or ())
    code = trailers.get("x-cang-error-code", "")
    assert err.value.details().startswith(code), err.value.details()
    return err.value.code(), code


@pytest.fixture(scope="module")
def root(stubs, channel, cang):
    return App(stubs, channel, cang.root)


@pytest.fixture(scope="module")
def key_id(cang):
    return cang.create_key()


def test_envelope_encryption_with_a_local_data_key(root, key_id):
    context = {"app": "billing", "record": "42"}
    dk = root.GenerateDataKey(key_id=key_id, encryption_context=context)
    assert dk.key_id == key_id and len(dk.plaintext) == 32 and dk.ciphertext_blob
    nonce = os.urandom(12)
    sealed = AESGCM(dk.plaintext).encrypt(nonce, b"invoice 42", None)
    # Later, holding only the sealed data and the data key's ciphertext:
    opened = root.Decrypt(ciphertext_blob=dk.ciphertext_blob, encryption_context=context)
    assert opened.key_id == key_id and opened.key_version_id == dk.key_version_id
    assert AESGCM(opened.plaintext).decrypt(nonce, sealed, None) == b"invoice 42"
    # The context is bound: another one does not open it.
    assert refused(root.Decrypt, ciphertext_blob=dk.ciphertext_blob, encryption_context={"app": "other"}) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidParameter",
    )


def test_the_documented_example_runs_as_written(cang, stubs, monkeypatch):
    """docs/kms.md §5, with its stubs importable, the instance's credentials in the environment and the
    `alias/app` it names."""
    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "kms.md").read_text()
    section = text[text.index("## 5. gRPC for applications") :]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    cang.admin("kms", "create-alias", "alias/app", cang.create_key())
    for name, value in [
        ("OSS_ACCESS_KEY_ID", cang.root.access_key_id),
        ("OSS_ACCESS_KEY_SECRET", cang.root.access_key_secret),
        ("KMS_GRPC_ENDPOINT", cang.kms_grpc_endpoint),
        ("KMS_GRPC_CA", cang.kms_grpc_ca),
    ]:
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(pathlib.Path(stubs[0].__file__).parents[3]))
    scope = {}
    exec(compile(example, "docs/kms.md", "exec"), scope)  # the example asserts its own round trip
    assert scope["key"] == scope["dk"].plaintext


def test_bytes_round_trip_and_rewrap(root, key_id, cang):
    secret = bytes(range(256))
    blob = root.Encrypt(key_id=key_id, plaintext=secret, encryption_context={"k": "v"}).ciphertext_blob
    assert root.Decrypt(ciphertext_blob=blob, encryption_context={"k": "v"}).plaintext == secret
    other = cang.create_key()
    moved = root.ReEncrypt(
        ciphertext_blob=blob,
        source_encryption_context={"k": "v"},
        destination_key_id=other,
        destination_encryption_context={"k": "w"},
    )
    assert moved.key_id == other
    assert root.Decrypt(ciphertext_blob=moved.ciphertext_blob, encryption_context={"k": "w"}).plaintext == secret
    wrapped = root.GenerateDataKeyWithoutPlaintext(key_id=key_id, number_of_bytes=16)
    assert len(root.Decrypt(ciphertext_blob=wrapped.ciphertext_blob).plaintext) == 16
    assert refused(root.Encrypt, key_id=key_id, plaintext=b"x" * (6 * 1024 + 1)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidParameter",
    )


def test_keys_are_described_and_listed(root, key_id):
    md = root.DescribeKey(key_id=key_id)
    assert (md.key_id, md.key_state, md.key_spec) == (key_id, "Enabled", "Aliyun_AES_256")
    assert md.arn.endswith(f":key/{key_id}")
    listed = root.ListKeys(page_size=100)
    assert key_id in {k.key_id for k in listed.keys}
    assert refused(root.DescribeKey, key_id=str(uuid.uuid4())) == (grpc.StatusCode.NOT_FOUND, "Forbidden.KeyNotFound")
    assert refused(root.DescribeKey, key_id="") == (grpc.StatusCode.INVALID_ARGUMENT, "MissingParameter")


def test_ram_policies_decide_every_key_use(stubs, channel, cang, root, key_id, tmp_path):
    arn = root.DescribeKey(key_id=key_id).arn
    writer = App(stubs, channel, cang.ram_user([{"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": arn}], tmp_path))
    dk = writer.GenerateDataKey(key_id=key_id)
    assert refused(writer.Decrypt, ciphertext_blob=dk.ciphertext_blob) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "Forbidden.NoPermission",
    )
    assert refused(writer.ListKeys) == (grpc.StatusCode.PERMISSION_DENIED, "Forbidden.NoPermission")
    other = cang.create_key()
    assert refused(writer.GenerateDataKey, key_id=other) == (grpc.StatusCode.PERMISSION_DENIED, "Forbidden.NoPermission")
    denied = App(
        stubs,
        channel,
        cang.ram_user(
            [
                {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": arn},
            ],
            tmp_path,
        ),
    )
    assert len(denied.GenerateDataKey(key_id=key_id).plaintext) == 32
    assert refused(denied.Decrypt, ciphertext_blob=dk.ciphertext_blob) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "Forbidden.NoPermission",
    )
    nobody = App(stubs, channel, cang.ram_user([], tmp_path))
    assert refused(nobody.DescribeKey, key_id=key_id) == (grpc.StatusCode.PERMISSION_DENIED, "Forbidden.NoPermission")


def test_a_foreign_accounts_key_is_not_found(stubs, channel, cang, root):
    account = cang.admin("account", "create", "--name", f"grpc-{uuid.uuid4().hex[:6]}")
    account_id = account["id"] if isinstance(account, dict) else str(account)
    key = cang.admin("--account", account_id, "key", "create")
    theirs = App(stubs, channel, Credentials(key["access_key_id"], key["access_key_secret"]))
    their_key = cang.admin("--account", account_id, "kms", "create-key", "--description", "theirs")["KeyId"]
    blob = theirs.Encrypt(key_id=their_key, plaintext=b"theirs").ciphertext_blob
    assert refused(root.DescribeKey, key_id=their_key) == (grpc.StatusCode.NOT_FOUND, "Forbidden.KeyNotFound")
    assert refused(root.Decrypt, ciphertext_blob=blob) == (grpc.StatusCode.NOT_FOUND, "Forbidden.KeyNotFound")
    assert refused(root.ReEncrypt, ciphertext_blob=blob) == (grpc.StatusCode.NOT_FOUND, "Forbidden.KeyNotFound")


def raw_call(stubs, channel, metadata, key_id):
    pb2, pb2_grpc = stubs
    return pb2_grpc.KmsStub(channel).DescribeKey(pb2.DescribeKeyRequest(key_id=key_id), metadata=metadata, timeout=10)


def test_bad_signatures_are_refused_and_the_service_keeps_serving(stubs, channel, cang, root, key_id):
    def code_of(metadata):
        with pytest.raises(grpc.RpcError) as err:
            raw_call(stubs, channel, metadata, key_id)
        return err.value.code(), dict(err.value.trailing_metadata() or ()).get("x-cang-error-code")

    wrong_secret = Credentials(cang.root.access_key_id, "not-the-secret")
    assert code_of(signed(wrong_secret, "DescribeKey")) == (grpc.StatusCode.UNAUTHENTICATED, "SignatureDoesNotMatch")
    unknown = Credentials("LTAInobody", "secret")
    assert code_of(signed(unknown, "DescribeKey")) == (grpc.StatusCode.UNAUTHENTICATED, "InvalidAccessKeyId.NotFound")
    # Signed for another method: the signature binds the method.
    assert code_of(signed(cang.root, "ListKeys")) == (grpc.StatusCode.UNAUTHENTICATED, "SignatureDoesNotMatch")
    once = signed(cang.root, "DescribeKey")
    raw_call(stubs, channel, once, key_id)
    assert code_of(once) == (grpc.StatusCode.UNAUTHENTICATED, "SignatureNonceUsed")
    old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert code_of(signed(cang.root, "DescribeKey", date=old)) == (grpc.StatusCode.UNAUTHENTICATED, "InvalidTimeStamp.Expired")
    assert code_of(signed(cang.root, "DescribeKey", date="yesterday")) == (grpc.StatusCode.UNAUTHENTICATED, "IllegalTimestamp")
    assert code_of([]) == (grpc.StatusCode.UNAUTHENTICATED, "IncompleteSignature")
    bad_hex = [(k, "zz" if k == "x-cang-signature" else v) for k, v in signed(cang.root, "DescribeKey")]
    assert code_of(bad_hex) == (grpc.StatusCode.UNAUTHENTICATED, "IncompleteSignature")
    assert root.DescribeKey(key_id=key_id).key_id == key_id


def test_health_and_reflection(channel):
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=10).status == (
        health_pb2.HealthCheckResponse.SERVING
    )
    db = ProtoReflectionDescriptorDatabase(channel)
    services = set(db.get_services())
    assert SERVICE in services
    assert not any(s.startswith("cang.kms.v1") or s.startswith("cang.meta") for s in services), services
    method_names = {m.name for m in _pool(db).FindServiceByName(SERVICE).methods}
    assert {"GenerateDataKey", "Decrypt", "Encrypt", "ReEncrypt", "DescribeKey", "ListKeys"} <= method_names


def _pool(db):
    from google.protobuf.descriptor_pool import DescriptorPool

    return DescriptorPool(db)


def test_key_use_is_audited_with_the_end_user_and_address_and_the_log_verifies(stubs, channel, cang, key_id, tmp_path):
    arn = App(stubs, channel, cang.root).DescribeKey(key_id=key_id).arn
    creds = cang.ram_user([{"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": arn}], tmp_path)
    App(stubs, channel, creds).GenerateDataKey(key_id=key_id, encryption_context={"purpose": "audit"})
    deadline = time.monotonic() + 10
    while True:
        mine = [
            r
            for r in cang.audit_records()
            if r["operation"] == "GenerateDataKey" and (r.get("end_user") or {}).get("access_key_id") == creds.access_key_id
        ]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert mine, "no audit record names the RAM user's access key"
    record = mine[-1]
    assert (record["principal"], record["key_id"], record["result"]) == ("kms", key_id, "ok")
    assert record["source"] == "127.0.0.1"
    assert record["encryption_context"] == {"purpose": "audit"}
    verified = cang.admin("kms", "audit", "verify")
    assert verified["intact"] is True and verified["failure"] is None
    assert verified["records"] >= 1 and verified["head"]
    again = cang.admin("kms", "audit", "verify", "--anchor", verified["head"])
    assert again["intact"] is True

