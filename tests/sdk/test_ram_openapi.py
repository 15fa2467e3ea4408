"""The RAM OpenAPI (2015-05-01) through the vendor SDK `alibabacloud-ram20150501`, unchanged, against the KMS_ENDPOINT
of `cang up` (ACS3, the SDK's default, and RPC `signature_algorithm='v2'`): users, access keys, custom policies and
attachments; what a created key may then do through oss2; refusals for RAM users without `ram:` permissions, for
keys of other users, and for malformed policy documents.
"""

import json
import uuid

import oss2
import pytest
from alibabacloud_ram20150501 import models as M
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from cang_up import Credentials, oss2_bucket
from kms_clients import openapi_config


def ram(cang, credentials=None, signing="acs3"):
    return RamClient(openapi_config(cang, credentials or cang.root, signing))


def refused(call):
    with pytest.raises(AlibabaCloudException) as err:
        call()
    return err.value.code


READ_ONLY = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:Get*", "oss:List*"], "Resource": "*"}]}


@pytest.mark.parametrize("signing", ["acs3", "rpc-v2"])
def test_users_keys_and_policies_round_trip(cang, signing, tmp_path):
    client = ram(cang, signing=signing)
    user = f"u{uuid.uuid4().hex[:10]}"
    policy = f"p{uuid.uuid4().hex[:10]}"
    created = client.create_user(M.CreateUserRequest(user_name=user)).body
    assert created.user.user_name == user
    assert user in [u.user_name for u in client.list_users(M.ListUsersRequest()).body.users.user]
    assert client.get_user(M.GetUserRequest(user_name=user)).body.user.user_name == user
    assert refused(lambda: client.create_user(M.CreateUserRequest(user_name=user))) == "EntityAlreadyExists.User"

    client.create_policy(M.CreatePolicyRequest(policy_name=policy, policy_document=json.dumps(READ_ONLY)))
    got = client.get_policy(M.GetPolicyRequest(policy_name=policy, policy_type="Custom")).body
    assert json.loads(got.default_policy_version.policy_document) == READ_ONLY
    assert policy in [p.policy_name for p in client.list_policies(M.ListPoliciesRequest()).body.policies.policy]
    client.attach_policy_to_user(M.AttachPolicyToUserRequest(policy_type="Custom", policy_name=policy, user_name=user))
    attached = client.list_policies_for_user(M.ListPoliciesForUserRequest(user_name=user)).body.policies.policy
    assert [p.policy_name for p in attached] == [policy]

    key = client.create_access_key(M.CreateAccessKeyRequest(user_name=user)).body.access_key
    assert key.status == "Active" and len(key.access_key_secret) >= 30
    listed = client.list_access_keys(M.ListAccessKeysRequest(user_name=user)).body.access_keys.access_key
    assert [k.access_key_id for k in listed] == [key.access_key_id]
    assert all(getattr(k, "access_key_secret", None) is None for k in listed)

    # The new key works through the OSS API, within its policy.
    name = f"ram-{uuid.uuid4().hex[:12]}"
    oss2_bucket(cang, "v4", name).create_bucket()
    oss2_bucket(cang, "v4", name).put_object("a.txt", b"hello")
    as_user = oss2_bucket(cang, "v4", name, Credentials(key.access_key_id, key.access_key_secret))
    assert as_user.get_object("a.txt").read() == b"hello"
    with pytest.raises(oss2.exceptions.AccessDenied):
        as_user.put_object("b.txt", b"no")

    client.update_access_key(
        M.UpdateAccessKeyRequest(user_name=user, user_access_key_id=key.access_key_id, status="Inactive")
    )
    listed = client.list_access_keys(M.ListAccessKeysRequest(user_name=user)).body.access_keys.access_key
    assert listed[0].status == "Inactive"
    assert refused(lambda: client.delete_policy(M.DeletePolicyRequest(policy_name=policy))) == "DeleteConflict"
    client.detach_policy_from_user(
        M.DetachPolicyFromUserRequest(policy_type="Custom", policy_name=policy, user_name=user)
    )
    client.delete_policy(M.DeletePolicyRequest(policy_name=policy))
    client.delete_access_key(M.DeleteAccessKeyRequest(user_name=user, user_access_key_id=key.access_key_id))
    client.delete_user(M.DeleteUserRequest(user_name=user))
    assert refused(lambda: client.get_user(M.GetUserRequest(user_name=user))) == "EntityNotExist.User"


def test_a_malformed_policy_is_refused_with_its_place(cang):
    client = ram(cang)
    bad = {"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "oss:*", "Resource": "*"}]}
    with pytest.raises(AlibabaCloudException) as err:
        client.create_policy(M.CreatePolicyRequest(policy_name=f"p{uuid.uuid4().hex[:8]}", policy_document=json.dumps(bad)))
    assert err.value.code == "MalformedPolicyDocument"
    assert "Statement[0].Effect" in err.value.message
    with pytest.raises(AlibabaCloudException) as err:
        client.create_policy(M.CreatePolicyRequest(policy_name=f"p{uuid.uuid4().hex[:8]}", policy_document="{\n  nope"))
    assert err.value.code == "MalformedPolicyDocument" and "line 2" in err.value.message


def test_ram_users_need_ram_permissions_and_see_only_their_own_keys(cang, tmp_path):
    nobody = cang.ram_user([{"Effect": "Allow", "Action": ["oss:*"], "Resource": "*"}], tmp_path)
    assert refused(lambda: ram(cang, nobody).list_users(M.ListUsersRequest())) == "Forbidden.NoPermission"
    assert refused(lambda: ram(cang, nobody).create_user(M.CreateUserRequest(user_name="x1"))) == "Forbidden.NoPermission"

    lister = cang.ram_user([{"Effect": "Allow", "Action": ["ram:List*"], "Resource": "*"}], tmp_path)
    assert ram(cang, lister).list_users(M.ListUsersRequest()).body.users.user
    assert refused(lambda: ram(cang, lister).create_user(M.CreateUserRequest(user_name="x2"))) == "Forbidden.NoPermission"

    # A user allowed ram:* on users may still not touch a key that is not the named user's.
    admin_of_users = cang.ram_user([{"Effect": "Allow", "Action": ["ram:*"], "Resource": "*"}], tmp_path)
    code = refused(
        lambda: ram(cang, admin_of_users).update_access_key(
            M.UpdateAccessKeyRequest(user_name="someone", user_access_key_id=cang.root.access_key_id, status="Inactive")
        )
    )
    assert code in ("EntityNotExist.User.AccessKey", "EntityNotExist.User")
    # Its own keys, without a user name.
    own = ram(cang, admin_of_users).list_access_keys(M.ListAccessKeysRequest()).body.access_keys.access_key
    assert [k.access_key_id for k in own] == [admin_of_users.access_key_id]
    # The account root's key is still active.
    assert oss2.Service(oss2.Auth(cang.root.access_key_id, cang.root.access_key_secret), cang.endpoint).list_buckets()


def test_a_wrong_secret_is_refused(cang):
    wrong = Credentials(cang.root.access_key_id, "not-the-secret")
    assert refused(lambda: ram(cang, wrong).list_users(M.ListUsersRequest())) == "SignatureDoesNotMatch"
