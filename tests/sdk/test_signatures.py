"""Real SDK signers against the `cang-oss` signature verifier.

oss2 and alibabacloud-oss-v2 sign requests (V1 and V4, in the header and presigned, path style and virtual
host) that a loopback server captures; the library must accept exactly those requests and reject each one
after a one-byte change to its signature, to a signed header and to its path.
"""

import datetime
import urllib.parse

import oss2
import alibabacloud_oss_v2 as oss
import pytest
import requests
from alibabacloud_oss_v2.signer import SignerV4
from alibabacloud_oss_v2.types import HttpRequest, SigningContext

try:
    from . import sig_capture
except ImportError:
    import sig_capture

AK, SK = "LTAIcangSigTestKey", "cangSigTestSecret+/="
STS_AK, STS_SK, STS_TOKEN = "STS.cangTemporary", "temporarySecret", "CAIS+token/with=symbols"
BUCKET = "sig-bkt"
KEYS = ["dir/a b+c.txt", "中文/ключ 🙂.bin", "plain", "100% sure?&=#.txt"]
UPLOAD_ID = "0004B9894A22E5B1888A1E29F823UPLOAD"


@pytest.fixture(scope="module")
def server():
    capture = sig_capture.CaptureServer()
    yield capture
    capture.close()


@pytest.fixture(scope="module")
def verifier(bin_dir):
    return sig_capture.Verifier(bin_dir / "examples" / "verify_requests")


@pytest.fixture
def vhost(monkeypatch):
    with sig_capture.loopback_vhost_resolution(monkeypatch):
        yield


def endpoint(server, style):
    host = "127.0.0.1" if style == "path" else sig_capture.VHOST_DOMAIN
    return f"http://{host}:{server.port}"


def quietly(call, *args, **kwargs):
    """Run an SDK call whose only purpose is the request it sends; the empty 200 answer may not parse."""
    try:
        call(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the response is irrelevant here, only the captured request matters
        pass


def send_presigned(method, url, headers=None):
    requests.request(method, url, headers=dict(headers or {}), data=b"body" if method == "PUT" else None, timeout=10)


def drive_oss2(server, version, style, auth=None):
    if auth is None:
        auth = oss2.Auth(AK, SK) if version == "v1" else oss2.AuthV4(AK, SK)
    region = "cn-hangzhou" if version == "v4" else None
    bucket = oss2.Bucket(auth, endpoint(server, style), BUCKET, region=region)
    sse = oss2.models.ServerSideEncryptionRule()
    sse.sse_algorithm = "KMS"
    for key in KEYS:
        headers = {"Content-Type": "text/plain", "x-oss-meta-owner": "Alice", "x-oss-server-side-encryption": "KMS"}
        quietly(bucket.put_object, key, b"data", headers=headers)
        send_presigned("GET", bucket.sign_url("GET", key, 600))
        put_headers = {"Content-Type": "text/plain", "x-oss-meta-a": "b"}
        send_presigned("PUT", bucket.sign_url("PUT", key, 600, headers=put_headers), put_headers)
    key = KEYS[0]
    quietly(bucket.get_object, key, byte_range=(0, 9))
    quietly(bucket.get_bucket_acl)
    quietly(bucket.init_multipart_upload, key)
    quietly(bucket.upload_part, key, UPLOAD_ID, 2, b"part")
    quietly(bucket.put_bucket_encryption, sse)
    quietly(bucket.list_objects_v2, prefix="dir/a b", max_keys=10)
    quietly(bucket.get_object, key, params={"response-content-disposition": "attachment; filename=a b.txt"})


def drive_pyv2(server, version, style):
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(AK, SK)
    cfg.region = "cn-hangzhou"
    cfg.endpoint = endpoint(server, style)
    cfg.signature_version = version
    cfg.retry_max_attempts = 1
    client = oss.Client(cfg)
    for key in KEYS:
        quietly(
            client.put_object,
            oss.PutObjectRequest(
                bucket=BUCKET,
                key=key,
                body=b"data",
                content_type="text/plain",
                metadata={"owner": "Alice"},
                server_side_encryption="KMS",
            ),
        )
        get = client.presign(oss.GetObjectRequest(bucket=BUCKET, key=key), expires=datetime.timedelta(minutes=10))
        send_presigned(get.method, get.url, get.signed_headers)
        put = client.presign(
            oss.PutObjectRequest(bucket=BUCKET, key=key, content_type="text/plain", metadata={"a": "b"}),
            expires=datetime.timedelta(minutes=10),
        )
        send_presigned(put.method, put.url, put.signed_headers)
    key = KEYS[0]
    quietly(client.get_object, oss.GetObjectRequest(bucket=BUCKET, key=key, range_header="bytes=0-9"))
    quietly(client.get_bucket_acl, oss.GetBucketAclRequest(bucket=BUCKET))
    quietly(client.initiate_multipart_upload, oss.InitiateMultipartUploadRequest(bucket=BUCKET, key=key))
    quietly(
        client.upload_part,
        oss.UploadPartRequest(bucket=BUCKET, key=key, upload_id=UPLOAD_ID, part_number=2, body=b"part"),
    )
    rule = oss.ServerSideEncryptionRule(
        apply_server_side_encryption_by_default=oss.ApplyServerSideEncryptionByDefault(sse_algorithm="KMS")
    )
    quietly(
        client.put_bucket_encryption,
        oss.PutBucketEncryptionRequest(bucket=BUCKET, server_side_encryption_rule=rule),
    )
    quietly(client.list_objects_v2, oss.ListObjectsV2Request(bucket=BUCKET, prefix="dir/a b", max_keys=10))


def signs_additional_headers(request):
    authorization = sig_capture.header(request, "authorization") or ""
    return "AdditionalHeaders=" in authorization or "x-oss-additional-headers=" in request["query"]


def expected_scheme(request, version):
    presigned = "Signature=" in request["query"] or "x-oss-signature=" in request["query"]
    return {
        ("v1", False): "V1Header",
        ("v1", True): "V1Presigned",
        ("v4", False): "V4Header",
        ("v4", True): "V4Presigned",
    }[(version, presigned)]


def assert_exactly_the_signed_requests_verify(verifier, captured, version, credentials, access_key_id):
    assert captured, "the SDK sent nothing"
    expected_keys = {None, *KEYS}
    for request in captured:
        bucket, key = sig_capture.route(request)
        assert bucket == BUCKET and key in expected_keys, (bucket, key, request)

    originals = verifier.verdicts(credentials, captured)
    for request, verdict in zip(captured, originals):
        assert verdict == {
            "ok": True,
            "access_key_id": access_key_id,
            "scheme": expected_scheme(request, version),
        }, (verdict, request)

    tampered = []
    for request in captured:
        tampered.append(sig_capture.tamper_signature(request))
        tampered.append(sig_capture.tamper_path(request))
        changed_header = sig_capture.tamper_signed_header(request)
        if changed_header is not None:
            tampered.append(changed_header)
    for request, verdict in zip(tampered, verifier.verdicts(credentials, tampered)):
        assert not verdict["ok"], request
        assert (verdict["code"], verdict["status"]) == ("SignatureDoesNotMatch", 403), (verdict, request)
    return len(captured), len(tampered)


MATRIX = [(version, style) for version in ("v1", "v4") for style in ("path", "vhost")]


@pytest.mark.parametrize("version,style", MATRIX)
def test_oss2_signatures(server, verifier, vhost, version, style):
    drive_oss2(server, version, style)
    captured = server.take()
    # 4 keys × (put, presigned get, presigned put) + 7 other operations.
    assert len(captured) == 19, [(r["method"], r["path"], r["query"]) for r in captured]
    assert_exactly_the_signed_requests_verify(verifier, captured, version, [credential(AK, SK)], AK)


@pytest.mark.parametrize("version,style", MATRIX)
def test_alibabacloud_oss_v2_signatures(server, verifier, vhost, version, style):
    drive_pyv2(server, version, style)
    captured = server.take()
    assert len(captured) == 18, [(r["method"], r["path"], r["query"]) for r in captured]
    assert_exactly_the_signed_requests_verify(verifier, captured, version, [credential(AK, SK)], AK)


def test_oss2_sts_token_is_signed_and_checked(server, verifier, vhost):
    drive_oss2(server, "v1", "path", auth=oss2.StsAuth(STS_AK, STS_SK, STS_TOKEN))
    captured = server.take()
    sts = credential(STS_AK, STS_SK, STS_TOKEN)
    assert_exactly_the_signed_requests_verify(verifier, captured, "v1", [sts], STS_AK)
    # The right signature with a different token on record is refused.
    other = credential(STS_AK, STS_SK, "another-token")
    for verdict in verifier.verdicts([other], captured):
        assert (verdict["ok"], verdict.get("code")) == (False, "AccessDenied"), verdict


def test_expired_and_unknown_key_requests_are_refused(server, verifier):
    bucket = oss2.Bucket(oss2.Auth(AK, SK), endpoint(server, "path"), BUCKET)
    send_presigned("GET", bucket.sign_url("GET", "plain", -5))
    quietly(bucket.get_bucket_acl)
    expired, acl = server.take()
    verdicts = verifier.verdicts([credential(AK, SK)], [expired])
    assert (verdicts[0]["code"], verdicts[0]["message"]) == ("AccessDenied", "Request has expired.")
    verdicts = verifier.verdicts([credential("someone-else", SK)], [acl])
    assert (verdicts[0]["code"], verdicts[0]["status"]) == ("InvalidAccessKeyId", 403)


def credential(access_key_id, secret, token=None):
    entry = {"access_key_id": access_key_id, "secret": secret}
    if token is not None:
        entry["security_token"] = token
    return entry


def object_url(server, style, key):
    quoted = urllib.parse.quote(key, safe="/")
    if style == "path":
        return f"http://127.0.0.1:{server.port}/{BUCKET}/{quoted}"
    return f"http://{BUCKET}.{sig_capture.VHOST_DOMAIN}:{server.port}/{quoted}"


def drive_additional_headers(server, style):
    """V4 requests that sign `host` and `range` beyond the default set. Neither SDK's client adds them by
    itself (py-v2 1.4.1 never hands `Config.additional_headers` to its signer), so the signers are called
    the way the clients call them, with the extra names passed in."""
    key = KEYS[0]
    # oss2: a presigned URL and a header-signed request.
    bucket = oss2.Bucket(oss2.AuthV4(AK, SK), endpoint(server, style), BUCKET, region="cn-hangzhou")
    ranged = {"Range": "bytes=0-9"}
    send_presigned("GET", bucket.sign_url("GET", key, 600, headers=ranged, additional_headers=["range"]), ranged)
    url = object_url(server, style, key).split("?")[0]
    host = urllib.parse.urlsplit(url).netloc
    request = oss2.http.Request("GET", url, headers={"Range": "bytes=0-9", "Host": host}, region="cn-hangzhou", product="oss")
    bucket.auth._sign_request(request, BUCKET, key, in_additional_headers=["range", "host"])
    requests.request(request.method, request.url, params=request.params, headers=dict(request.headers), timeout=10)
    # py-v2: its V4 signer, in the header and in the query.
    credentials = oss.credentials.StaticCredentialsProvider(AK, SK).get_credentials()
    for presigned in (False, True):
        request = HttpRequest("GET", object_url(server, style, key), headers={"Host": host, "Range": "bytes=0-9"})
        context = SigningContext(
            product="oss",
            region="cn-hangzhou",
            bucket=BUCKET,
            key=key,
            request=request,
            credentials=credentials,
            additional_headers={"host", "range"},
        )
        context.auth_method_query = presigned
        SignerV4().sign(context)
        requests.request(request.method, request.url, headers=dict(request.headers), timeout=10)


@pytest.mark.parametrize("style", ["path", "vhost"])
def test_v4_additional_headers(server, verifier, vhost, style):
    drive_additional_headers(server, style)
    captured = server.take()
    assert len(captured) == 4
    assert all(signs_additional_headers(r) for r in captured), captured
    assert_exactly_the_signed_requests_verify(verifier, captured, "v4", [credential(AK, SK)], AK)
    # Range is signed now: a different range must not verify.
    changed = [
        sig_capture.with_headers(r, [[k, "bytes=0-8" if k.lower() == "range" else v] for k, v in r["headers"]])
        for r in captured
    ]
    for verdict in verifier.verdicts([credential(AK, SK)], changed):
        assert verdict.get("code") == "SignatureDoesNotMatch", verdict
