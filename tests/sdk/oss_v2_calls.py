"""alibabacloud-oss-v2 calls the SDK suites repeat, reduced to one line each, and the error unwrapping they share."""

import re

import alibabacloud_oss_v2 as oss
from alibabacloud_oss_v2.exceptions import ServiceError

M = oss.models


def service_error(excinfo, status, code):
    """The ServiceError inside the SDK's wrapping exceptions, checked for status and code."""
    err = excinfo.value
    while not isinstance(err, ServiceError) and hasattr(err, "unwrap") and err.unwrap() is not None:
        err = err.unwrap()
    assert isinstance(err, ServiceError), repr(excinfo.value)
    assert (err.status_code, err.code) == (status, code), f"{err.status_code} {err.code}: {err.message}"
    assert re.fullmatch(r"[0-9A-F]{24}", err.request_id or ""), err.request_id
    return err


def unquote(etag):
    return etag.strip('"') if etag else etag


def sse_fields(mode, cmk):
    """The PutObject/Append/Copy/Initiate request fields for an SSE mode."""
    return {
        "server_side_encryption": mode.algorithm,
        "server_side_data_encryption": mode.data,
        "server_side_encryption_key_id": cmk if mode.with_cmk else None,
    }


def put(client, bucket, key, data, **fields):
    return client.put_object(M.PutObjectRequest(bucket=bucket, key=key, body=data, **fields))


def get(client, bucket, key, **fields):
    result = client.get_object(M.GetObjectRequest(bucket=bucket, key=key, **fields))
    return result, result.body.read()


def head(client, bucket, key):
    return client.head_object(M.HeadObjectRequest(bucket=bucket, key=key))


def exists(client, bucket, key):
    return client.is_object_exist(bucket, key)


def create_bucket(client, name, headers=None):
    result = client.put_bucket(M.PutBucketRequest(bucket=name, headers=dict(headers or {})))
    assert result.status_code == 200
    return name
