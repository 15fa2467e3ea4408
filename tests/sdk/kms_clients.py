"""The vendor KMS SDKs pointed at a `cang up` instance's KMS OpenAPI, unchanged: `alibabacloud-kms20160120` with its
default ACS3 signature or `signature_algorithm='v2'` (RPC HMAC-SHA1), and the legacy `aliyun-python-sdk-kms` on
`aliyun-python-sdk-core`. Errors come back as one shape, `KmsFailure(status, code)`, whichever SDK raised them.
"""

import json

from aliyunsdkcore.acs_exception.exceptions import ServerException as LegacyServerError
from aliyunsdkcore.client import AcsClient
from alibabacloud_kms20160120 import models as M
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi import models as open_api
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

# Every suite runs against each of these.
SIGNINGS = ["acs3", "rpc-v2", "legacy"]


class KmsFailure(Exception):
    """What the server answered: HTTP status and Alibaba error code."""

    def __init__(self, status, code):
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code


def host_of(cang):
    assert cang.kms_endpoint.startswith("http://"), f"KMS_ENDPOINT is {cang.kms_endpoint!r}"
    return cang.kms_endpoint.removeprefix("http://")


def openapi_config(cang, credentials, signing="acs3"):
    """The tea-openapi settings every vendor SDK client here uses: the instance's KMS_ENDPOINT over http, and
    `signing` "acs3" (the SDK default) or "rpc-v2"."""
    config = open_api.Config(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        endpoint=host_of(cang),
        protocol="http",
        region_id=cang.region,
        read_timeout=20000,
        connect_timeout=5000,
    )
    if signing == "rpc-v2":
        config.signature_algorithm = "v2"
    return config


def tea_client(cang, credentials, signing="acs3"):
    """An alibabacloud-kms20160120 client; `signing` is "acs3" (the SDK default) or "rpc-v2"."""
    return KmsClient(openapi_config(cang, credentials, signing))


def legacy_client(cang, credentials):
    return AcsClient(
        credentials.access_key_id, credentials.access_key_secret, cang.region, auto_retry=False, timeout=20
    )


def _context(ctx):
    return json.dumps(ctx) if ctx is not None else None


class Kms:
    """The operations the suites use, through one of the three SDK variants, returning plain dicts with Alibaba's
    field names (as in the JSON answer)."""

    def __init__(self, cang, credentials, signing):
        self.cang = cang
        self.signing = signing
        if signing == "legacy":
            self._legacy = legacy_client(cang, credentials)
        else:
            self._tea = tea_client(cang, credentials, signing)

    # -- plumbing -------------------------------------------------------------------------------------------------

    def _legacy_call(self, action, params):
        from aliyunsdkcore.request import CommonRequest

        request = CommonRequest(domain=host_of(self.cang), version="2016-01-20", action_name=action)
        request.set_protocol_type("http")
        request.set_method("POST")
        request.set_accept_format("JSON")
        for name, value in params.items():
            if value is not None:
                request.add_query_param(name, str(value))
        try:
            return json.loads(self._legacy.do_action_with_exception(request))
        except LegacyServerError as err:
            raise KmsFailure(err.get_http_status(), err.get_error_code()) from err

    def _tea_call(self, method, request):
        try:
            return getattr(self._tea, method)(request).body.to_map()
        except AlibabaCloudException as err:
            raise KmsFailure(err.status_code, err.code) from err

    def call(self, action, tea_method, tea_request, **params):
        if self.signing == "legacy":
            return self._legacy_call(action, params)
        return self._tea_call(tea_method, tea_request)

    # -- operations -----------------------------------------------------------------------------------------------

    def create_key(self, description="sdk", origin=None):
        return self.call(
            "CreateKey",
            "create_key",
            M.CreateKeyRequest(description=description, origin=origin),
            Description=description,
            Origin=origin,
        )["KeyMetadata"]

    def describe_key(self, key_id):
        return self.call("DescribeKey", "describe_key", M.DescribeKeyRequest(key_id=key_id), KeyId=key_id)[
            "KeyMetadata"
        ]

    def list_keys(self, page_size=100):
        return self.call("ListKeys", "list_keys", M.ListKeysRequest(page_size=page_size), PageSize=page_size)

    def create_alias(self, alias, key_id):
        return self.call(
            "CreateAlias", "create_alias", M.CreateAliasRequest(alias_name=alias, key_id=key_id), AliasName=alias, KeyId=key_id
        )

    def list_aliases_by_key_id(self, key_id):
        return self.call(
            "ListAliasesByKeyId",
            "list_aliases_by_key_id",
            M.ListAliasesByKeyIdRequest(key_id=key_id),
            KeyId=key_id,
        )

    def disable_key(self, key_id):
        return self.call("DisableKey", "disable_key", M.DisableKeyRequest(key_id=key_id), KeyId=key_id)

    def enable_key(self, key_id):
        return self.call("EnableKey", "enable_key", M.EnableKeyRequest(key_id=key_id), KeyId=key_id)

    def schedule_key_deletion(self, key_id, days):
        return self.call(
            "ScheduleKeyDeletion",
            "schedule_key_deletion",
            M.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=days),
            KeyId=key_id,
            PendingWindowInDays=days,
        )

    def cancel_key_deletion(self, key_id):
        return self.call(
            "CancelKeyDeletion", "cancel_key_deletion", M.CancelKeyDeletionRequest(key_id=key_id), KeyId=key_id
        )

    def generate_data_key(self, key_id, context=None, number_of_bytes=None):
        return self.call(
            "GenerateDataKey",
            "generate_data_key",
            M.GenerateDataKeyRequest(key_id=key_id, encryption_context=context, number_of_bytes=number_of_bytes),
            KeyId=key_id,
            EncryptionContext=_context(context),
            NumberOfBytes=number_of_bytes,
        )

    def generate_data_key_without_plaintext(self, key_id, context=None):
        return self.call(
            "GenerateDataKeyWithoutPlaintext",
            "generate_data_key_without_plaintext",
            M.GenerateDataKeyWithoutPlaintextRequest(key_id=key_id, encryption_context=context),
            KeyId=key_id,
            EncryptionContext=_context(context),
        )

    def encrypt(self, key_id, plaintext, context=None):
        return self.call(
            "Encrypt",
            "encrypt",
            M.EncryptRequest(key_id=key_id, plaintext=plaintext, encryption_context=context),
            KeyId=key_id,
            Plaintext=plaintext,
            EncryptionContext=_context(context),
        )

    def decrypt(self, blob, context=None):
        return self.call(
            "Decrypt",
            "decrypt",
            M.DecryptRequest(ciphertext_blob=blob, encryption_context=context),
            CiphertextBlob=blob,
            EncryptionContext=_context(context),
        )

    def re_encrypt(self, blob, destination, source_context=None, destination_context=None):
        return self.call(
            "ReEncrypt",
            "re_encrypt",
            M.ReEncryptRequest(
                ciphertext_blob=blob,
                destination_key_id=destination,
                source_encryption_context=source_context,
                destination_encryption_context=destination_context,
            ),
            CiphertextBlob=blob,
            DestinationKeyId=destination,
            SourceEncryptionContext=_context(source_context),
            DestinationEncryptionContext=_context(destination_context),
        )

    def create_key_version(self, key_id):
        return self.call(
            "CreateKeyVersion", "create_key_version", M.CreateKeyVersionRequest(key_id=key_id), KeyId=key_id
        )["KeyVersion"]

    def list_key_versions(self, key_id):
        return self.call(
            "ListKeyVersions", "list_key_versions", M.ListKeyVersionsRequest(key_id=key_id), KeyId=key_id
        )

    def describe_key_version(self, key_id, version_id):
        return self.call(
            "DescribeKeyVersion",
            "describe_key_version",
            M.DescribeKeyVersionRequest(key_id=key_id, key_version_id=version_id),
            KeyId=key_id,
            KeyVersionId=version_id,
        )["KeyVersion"]

    def update_rotation_policy(self, key_id, enabled, interval=None):
        return self.call(
            "UpdateRotationPolicy",
            "update_rotation_policy",
            M.UpdateRotationPolicyRequest(
                key_id=key_id, enable_automatic_rotation=enabled, rotation_interval=interval
            ),
            KeyId=key_id,
            EnableAutomaticRotation=str(enabled).lower(),
            RotationInterval=interval,
        )

    def get_parameters_for_import(self, key_id):
        return self.call(
            "GetParametersForImport",
            "get_parameters_for_import",
            M.GetParametersForImportRequest(
                key_id=key_id, wrapping_algorithm="RSAES_OAEP_SHA_256", wrapping_key_spec="RSA_2048"
            ),
            KeyId=key_id,
            WrappingAlgorithm="RSAES_OAEP_SHA_256",
            WrappingKeySpec="RSA_2048",
        )

    def import_key_material(self, key_id, material_b64, token):
        return self.call(
            "ImportKeyMaterial",
            "import_key_material",
            M.ImportKeyMaterialRequest(key_id=key_id, encrypted_key_material=material_b64, import_token=token),
            KeyId=key_id,
            EncryptedKeyMaterial=material_b64,
            ImportToken=token,
        )

    def list_resource_tags(self, key_id):
        return self.call(
            "ListResourceTags", "list_resource_tags", M.ListResourceTagsRequest(key_id=key_id), KeyId=key_id
        )

    def tag_resource(self, key_id, tags):
        """`tags`: {key: value}, sent as Alibaba's JSON array of {TagKey, TagValue}."""
        text = json.dumps([{"TagKey": k, "TagValue": v} for k, v in tags.items()])
        return self.call(
            "TagResource", "tag_resource", M.TagResourceRequest(key_id=key_id, tags=text), KeyId=key_id, Tags=text
        )

    def untag_resource(self, key_id, tag_keys):
        text = json.dumps(list(tag_keys))
        return self.call(
            "UntagResource",
            "untag_resource",
            M.UntagResourceRequest(key_id=key_id, tag_keys=text),
            KeyId=key_id,
            TagKeys=text,
        )

