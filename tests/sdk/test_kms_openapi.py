"""The Alibaba KMS OpenAPI as the vendor SDKs meet it, each test once per signing (ACS3 default, RPC v2, legacy SDK):
envelope encryption with a locally used data key, text Encrypt/Decrypt bound to a context, key states, aliases,
versions and rewrapping, BYOK import, rotation policy; and the envelope example of docs/kms.md, run as written.
"""

import base64
import os
import pathlib
import re
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_der_public_key

from kms_clients import SIGNINGS, Kms, KmsFailure

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "kms.md"


@pytest.fixture(params=SIGNINGS)
def kms(cang, request):
    return Kms(cang, cang.root, request.param)


@pytest.fixture
def key_id(kms):
    return kms.create_key()["KeyId"]


def fails(fn, *args, **kwargs):
    with pytest.raises(KmsFailure) as err:
        fn(*args, **kwargs)
    return err.value.status, err.value.code


def test_the_documented_envelope_example_runs_as_written(cang, monkeypatch):
    text = DOCS.read_text()
    section = text[text.index("## Envelope encryption") :]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.setenv("KMS_ENDPOINT", cang.kms_endpoint)
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", cang.root.access_key_id)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", cang.root.access_key_secret)
    monkeypatch.setenv("OSS_REGION", cang.region)
    scope = {}
    exec(compile(example, str(DOCS), "exec"), scope)  # the example asserts its own round trip
    assert scope["data"] == b"the quarterly numbers"


def test_envelope_encryption_with_a_local_aes_gcm(kms, key_id):
    context = {"bucket": "reports", "object": "q3.csv"}
    dk = kms.generate_data_key(key_id, context)
    assert dk["KeyId"] == key_id and dk["KeyVersionId"]
    data_key = base64.b64decode(dk["Plaintext"])
    assert len(data_key) == 32
    nonce = os.urandom(12)
    sealed = AESGCM(data_key).encrypt(nonce, b"row,1\nrow,2\n", None)

    opened = kms.decrypt(dk["CiphertextBlob"], context)
    assert opened["KeyId"] == key_id
    assert opened["Plaintext"] == dk["Plaintext"], "Decrypt of a data key returns its base64 text"
    assert AESGCM(base64.b64decode(opened["Plaintext"])).decrypt(nonce, sealed, None) == b"row,1\nrow,2\n"

    # The context is bound: another one fails, without saying which part was wrong.
    assert fails(kms.decrypt, dk["CiphertextBlob"], {"bucket": "reports"}) == (400, "InvalidParameter")


def test_data_keys_without_plaintext_and_of_other_lengths(kms, key_id):
    blob = kms.generate_data_key_without_plaintext(key_id)
    assert "Plaintext" not in blob
    assert len(base64.b64decode(kms.decrypt(blob["CiphertextBlob"])["Plaintext"])) == 32
    short = kms.generate_data_key(key_id, number_of_bytes=16)
    assert len(base64.b64decode(short["Plaintext"])) == 16


def test_text_encrypt_and_decrypt(kms, key_id):
    secret = "-----BEGIN KEY-----\nä ö ü + / = & %\n-----END KEY-----"
    ct = kms.encrypt(key_id, secret, {"app": "web"})
    assert ct["KeyId"] == key_id
    assert kms.decrypt(ct["CiphertextBlob"], {"app": "web"})["Plaintext"] == secret
    assert fails(kms.decrypt, ct["CiphertextBlob"]) == (400, "InvalidParameter")


def test_key_metadata_and_states(kms, key_id):
    meta = kms.describe_key(key_id)
    assert meta["KeyState"] == "Enabled"
    assert meta["KeySpec"] == "Aliyun_AES_256" and meta["Origin"] == "Aliyun_KMS"
    assert meta["KeyUsage"] == "ENCRYPT/DECRYPT"
    assert re.fullmatch(r"acs:kms:[a-z0-9-]+:\d+:key/" + re.escape(key_id), meta["Arn"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["CreationDate"])
    assert key_id in [k["KeyId"] for k in kms.list_keys()["Keys"]["Key"]]

    ct = kms.encrypt(key_id, "x")
    kms.disable_key(key_id)
    assert kms.describe_key(key_id)["KeyState"] == "Disabled"
    assert fails(kms.generate_data_key, key_id) == (409, "Rejected.Disabled")
    assert fails(kms.decrypt, ct["CiphertextBlob"]) == (409, "Rejected.Disabled")
    kms.enable_key(key_id)
    kms.schedule_key_deletion(key_id, 7)
    meta = kms.describe_key(key_id)
    assert meta["KeyState"] == "PendingDeletion" and meta["DeleteDate"]
    assert fails(kms.encrypt, key_id, "x") == (409, "Rejected.PendingDeletion")
    kms.cancel_key_deletion(key_id)
    assert kms.decrypt(ct["CiphertextBlob"])["Plaintext"] == "x"


def test_aliases_name_keys_everywhere_a_key_id_goes(kms, key_id):
    alias = f"alias/sdk/{uuid.uuid4().hex[:10]}"
    kms.create_alias(alias, key_id)
    assert kms.generate_data_key(alias)["KeyId"] == key_id
    assert kms.describe_key(alias)["KeyId"] == key_id
    listed = kms.list_aliases_by_key_id(key_id)["Aliases"]["Alias"]
    assert [a["AliasName"] for a in listed] == [alias]
    assert listed[0]["AliasArn"].endswith(":" + alias)
    assert fails(kms.create_alias, alias, key_id) == (400, "AliasAlreadyExists")
    assert fails(kms.describe_key, "alias/sdk/none-such")[1] == "Forbidden.AliasNotFound"


def test_versions_rotation_and_rewrapping(kms, key_id):
    old = kms.encrypt(key_id, "before rotation")
    version = kms.create_key_version(key_id)
    assert version["KeyId"] == key_id and version["KeyVersionId"] != old["KeyVersionId"]
    versions = kms.list_key_versions(key_id)
    assert versions["TotalCount"] == 2
    assert [v["KeyVersionId"] for v in versions["KeyVersions"]["KeyVersion"]][-1] == version["KeyVersionId"]
    assert kms.describe_key_version(key_id, version["KeyVersionId"])["CreationDate"]
    assert fails(kms.describe_key_version, key_id, "no-such-version") == (404, "Forbidden.KeyVersionNotFound")

    assert kms.decrypt(old["CiphertextBlob"])["KeyVersionId"] == old["KeyVersionId"]
    other = kms.create_key()["KeyId"]
    moved = kms.re_encrypt(old["CiphertextBlob"], other, destination_context={"moved": "yes"})
    assert moved["KeyId"] == other
    assert kms.decrypt(moved["CiphertextBlob"], {"moved": "yes"})["Plaintext"] == "before rotation"

    kms.update_rotation_policy(key_id, True, "30d")
    meta = kms.describe_key(key_id)
    assert meta["AutomaticRotation"] == "Enabled" and meta["RotationInterval"] == f"{30 * 86400}s"


def test_byok_import(kms):
    key_id = kms.create_key(origin="EXTERNAL")["KeyId"]
    assert kms.describe_key(key_id)["KeyState"] == "PendingImport"
    params = kms.get_parameters_for_import(key_id)
    public = load_der_public_key(base64.b64decode(params["PublicKey"]))
    material = os.urandom(32)
    wrapped = public.encrypt(
        material, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    kms.import_key_material(key_id, base64.b64encode(wrapped).decode(), params["ImportToken"])
    assert kms.describe_key(key_id)["KeyState"] == "Enabled"
    assert kms.decrypt(kms.encrypt(key_id, "byok")["CiphertextBlob"])["Plaintext"] == "byok"


def tags_of(answer):
    return {t["TagKey"]: t["TagValue"] for t in answer["Tags"]["Tag"]}


def test_tags_are_kept_changed_and_removed(kms, key_id):
    assert tags_of(kms.list_resource_tags(key_id)) == {}
    kms.tag_resource(key_id, {"team": "storage", "env": "test", "部门": "存储"})
    kms.tag_resource(key_id, {"env": "prod"})
    listed = kms.list_resource_tags(key_id)
    assert tags_of(listed) == {"team": "storage", "env": "prod", "部门": "存储"}
    assert {t["KeyId"] for t in listed["Tags"]["Tag"]} == {key_id}
    kms.untag_resource(key_id, ["team", "absent"])
    assert tags_of(kms.list_resource_tags(key_id)) == {"env": "prod", "部门": "存储"}
    # An alias reaches the same key.
    alias = f"alias/tags-{uuid.uuid4().hex[:8]}"
    kms.create_alias(alias, key_id)
    assert tags_of(kms.list_resource_tags(alias)) == {"env": "prod", "部门": "存储"}


def test_tags_are_bounded_and_validated(kms, key_id):
    kms.tag_resource(key_id, {f"k{i}": "v" for i in range(20)})
    assert fails(kms.tag_resource, key_id, {"one-more": "v"}) == (400, "InvalidParameter")
    assert len(tags_of(kms.list_resource_tags(key_id))) == 20, "a refused call changes nothing"
    assert fails(kms.tag_resource, key_id, {"acs:reserved": "v"}) == (400, "InvalidParameter")
    assert fails(kms.tag_resource, key_id, {"k" * 129: "v"}) == (400, "InvalidParameter")
    assert fails(kms.list_resource_tags, str(uuid.uuid4())) == (404, "Forbidden.KeyNotFound")
