"""Who may use which key through the KMS OpenAPI, and what bad input gets, with the vendor SDKs (each test once per
signing where the SDK can express it): RAM users allowed or refused by their policies (the seed's `kms:List*` +
`kms:DescribeKey` reader), a foreign account's keys and ciphertexts not found, wrong secrets, unknown access keys,
replayed nonces, skewed clocks, unknown actions, missing parameters and unsigned requests answered with Alibaba's
exact codes — and the service still serving after each. Key uses are audited with the end user.
"""

import datetime
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from aliyunsdkcore.utils import parameter_helper
from alibabacloud_tea_openapi import utils_models as open_api_util
from alibabacloud_tea_openapi.utils import Utils
from darabonba.runtime import RuntimeOptions

from cang_up import Credentials
from kms_clients import SIGNINGS, Kms, KmsFailure

READER = [{"Effect": "Allow", "Action": ["kms:List*", "kms:DescribeKey"], "Resource": "*"}]


@pytest.fixture(params=SIGNINGS)
def signing(request):
    return request.param


@pytest.fixture(scope="module")
def shared_key(cang):
    return Kms(cang, cang.root, "acs3").create_key("trust suite")["KeyId"]


@pytest.fixture(scope="module")
def foreign(cang):
    """A second account with a key and a ciphertext of its own, and its root credentials."""
    account = cang.admin("account", "create", "--name", f"other-{uuid.uuid4().hex[:6]}")
    account_id = account["id"] if isinstance(account, dict) else str(account)
    key = cang.admin("--account", account_id, "key", "create")
    creds = Credentials(key["access_key_id"], key["access_key_secret"])
    kms = Kms(cang, creds, "acs3")
    key_id = kms.create_key("foreign")["KeyId"]
    blob = kms.encrypt(key_id, "theirs")["CiphertextBlob"]
    return key_id, blob


def fails(fn, *args, **kwargs):
    with pytest.raises(KmsFailure) as err:
        fn(*args, **kwargs)
    return err.value.status, err.value.code


def still_serving(cang, shared_key):
    kms = Kms(cang, cang.root, "acs3")
    assert kms.decrypt(kms.encrypt(shared_key, "ok")["CiphertextBlob"])["Plaintext"] == "ok"


def test_the_seed_reader_lists_and_describes_but_uses_no_key(cang, tmp_path, signing, shared_key):
    reader = Kms(cang, cang.ram_user(READER, tmp_path), signing)
    assert shared_key in [k["KeyId"] for k in reader.list_keys()["Keys"]["Key"]]
    assert reader.describe_key(shared_key)["KeyId"] == shared_key
    assert reader.list_aliases_by_key_id(shared_key)["TotalCount"] == 0
    blob = Kms(cang, cang.root, "acs3").encrypt(shared_key, "x")["CiphertextBlob"]
    denied = (403, "Forbidden.NoPermission")
    assert fails(reader.generate_data_key, shared_key) == denied
    assert fails(reader.decrypt, blob) == denied
    assert fails(reader.encrypt, shared_key, "x") == denied
    assert fails(reader.create_key) == denied
    assert fails(reader.disable_key, shared_key) == denied


def test_a_user_allowed_one_key_uses_that_key_only(cang, tmp_path, signing, shared_key):
    root = Kms(cang, cang.root, "acs3")
    arn = root.describe_key(shared_key)["Arn"]
    user = Kms(
        cang,
        cang.ram_user([{"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": arn}], tmp_path),
        signing,
    )
    dk = user.generate_data_key(shared_key, {"app": "a"})
    assert user.decrypt(dk["CiphertextBlob"], {"app": "a"})["Plaintext"] == dk["Plaintext"]
    other = root.create_key()["KeyId"]
    assert fails(user.generate_data_key, other) == (403, "Forbidden.NoPermission")
    # An alias of the allowed key is allowed: RAM decides on the key the alias names.
    alias = f"alias/trust/{uuid.uuid4().hex[:8]}"
    root.create_alias(alias, shared_key)
    assert user.generate_data_key(alias)["KeyId"] == shared_key


def test_an_explicit_deny_wins(cang, tmp_path, shared_key):
    user = Kms(
        cang,
        cang.ram_user(
            [
                {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
            ],
            tmp_path,
        ),
        "acs3",
    )
    blob = user.encrypt(shared_key, "x")["CiphertextBlob"]
    assert fails(user.decrypt, blob) == (403, "Forbidden.NoPermission")


def test_a_user_without_policies_may_do_nothing(cang, tmp_path, signing):
    nobody = Kms(cang, cang.ram_user([], tmp_path), signing)
    assert fails(nobody.list_keys) == (403, "Forbidden.NoPermission")


def test_a_foreign_accounts_key_and_ciphertext_are_not_found(cang, signing, foreign, shared_key):
    key_id, blob = foreign
    kms = Kms(cang, cang.root, signing)
    not_found = (404, "Forbidden.KeyNotFound")
    assert fails(kms.describe_key, key_id) == not_found
    assert fails(kms.generate_data_key, key_id) == not_found
    assert fails(kms.decrypt, blob) == not_found
    assert fails(kms.disable_key, key_id) == not_found
    still_serving(cang, shared_key)


def test_a_wrong_secret_does_not_match(cang, signing, shared_key):
    wrong = Kms(cang, Credentials(cang.root.access_key_id, cang.root.access_key_secret + "x"), signing)
    assert fails(wrong.list_keys) == (400, "SignatureDoesNotMatch")
    still_serving(cang, shared_key)


def test_an_unknown_access_key_is_not_found(cang, signing, shared_key):
    stranger = Kms(cang, Credentials("LTAI" + "0" * 20, "secret"), signing)
    assert fails(stranger.list_keys) == (404, "InvalidAccessKeyId.NotFound")
    still_serving(cang, shared_key)


@pytest.fixture
def fixed_nonce(monkeypatch, signing):
    nonce = uuid.uuid4().hex
    if signing == "legacy":
        monkeypatch.setattr(parameter_helper, "get_uuid", lambda: nonce)
    else:
        monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: nonce))
    return nonce


def test_a_replayed_nonce_is_refused(cang, signing, fixed_nonce, monkeypatch, shared_key):
    kms = Kms(cang, cang.root, signing)
    kms.list_keys()
    assert fails(kms.list_keys) == (400, "SignatureNonceUsed")
    monkeypatch.undo()
    still_serving(cang, shared_key)


@pytest.mark.parametrize("minutes", [-20, 20])
def test_a_skewed_timestamp_is_refused(cang, signing, monkeypatch, shared_key, minutes):
    skewed = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    if signing == "legacy":
        monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: skewed)
    else:
        monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: skewed))
    kms = Kms(cang, cang.root, signing)
    assert fails(kms.list_keys) == (400, "InvalidTimeStamp.Expired")
    monkeypatch.undo()
    still_serving(cang, shared_key)


def test_an_unknown_action_is_not_found(cang, signing, shared_key):
    kms = Kms(cang, cang.root, signing)
    if signing == "legacy":
        status, code = fails(kms._legacy_call, "NoSuchAction", {})
    else:
        params = open_api_util.Params(
            action="NoSuchAction",
            version="2016-01-20",
            protocol="HTTP",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        status, code = fails(_raw_tea, kms, params)
    assert (status, code) == (404, "InvalidAction.NotFound")
    still_serving(cang, shared_key)


def _raw_tea(kms, params):
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

    try:
        return kms._tea.call_api(params, open_api_util.OpenApiRequest(query={}), RuntimeOptions())
    except AlibabaCloudException as err:
        raise KmsFailure(err.status_code, err.code) from err


def test_a_missing_parameter_is_named(cang, signing, shared_key):
    kms = Kms(cang, cang.root, signing)
    status, code = fails(kms.decrypt, None)
    assert (status, code) == (400, "MissingParameter")
    assert fails(kms.schedule_key_deletion, shared_key, None) == (400, "MissingParameter")
    still_serving(cang, shared_key)


def test_an_unsigned_request_gets_the_alibaba_error_body(cang, shared_key):
    request = urllib.request.Request(
        cang.kms_endpoint + "/?Action=ListKeys&Version=2016-01-20", method="POST", data=b""
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400
    body = json.loads(err.value.read())
    assert body["Code"] == "IncompleteSignature"
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    still_serving(cang, shared_key)


def test_key_use_is_audited_with_the_end_user(cang, tmp_path, shared_key):
    arn = Kms(cang, cang.root, "acs3").describe_key(shared_key)["Arn"]
    creds = cang.ram_user([{"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": arn}], tmp_path)
    user = Kms(cang, creds, "acs3")
    user.generate_data_key(shared_key)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine = [
            r
            for r in cang.audit_records()
            if r["operation"] == "GenerateDataKey" and (r.get("end_user") or {}).get("access_key_id") == creds.access_key_id
        ]
        if mine:
            assert mine[-1]["principal"] == "kms"
            assert mine[-1]["key_id"] == shared_key
            assert mine[-1]["result"] == "ok"
            assert mine[-1]["end_user"]["user"], "the RAM user is named"
            return
        time.sleep(0.2)
    pytest.fail("no audit record names the RAM user's access key")

