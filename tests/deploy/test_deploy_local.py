"""The manifests run as written: kms, meta and the gateway start from the containers' commands, args and
environment with their Secrets and ConfigMaps mounted where the manifests put them, pass their own probes,
let the admin Job create an account and key, serve an SSE PUT and GET through a real OSS SDK, keep only
ciphertext on meta's volume, and stop cleanly on SIGTERM within their grace periods."""

import datetime
import http.client
import ipaddress
import json
import secrets
import urllib.parse
import uuid

import oss2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from k8s_local import LocalCluster, PodFailed
from k8s_manifests import ADMIN_JOB, BASE, CERT_MANAGER, SECRET_TEMPLATES, documents, find, kustomize

IDENTITIES = ("gateway", "admin", "kms", "meta")


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue_pki():
    """A CA and one certificate per identity with the overlay's DNS names (plus 127.0.0.1, the address the
    local run dials), PKCS#8 keys: what `deploy/README.md` tells operators to create."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("cang internal ca"))
        .issuer_name(_name("cang internal ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    dns = {c["spec"]["commonName"]: c["spec"].get("dnsNames", []) for c in find(kustomize(CERT_MANAGER), "Certificate")}
    issued = {}
    for identity in IDENTITIES:
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName(h) for h in dns[identity]] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(identity))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        issued[identity] = {
            "ca.crt": ca_pem,
            "tls.crt": cert.public_bytes(serialization.Encoding.PEM),
            "tls.key": key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        }
    return issued


def _secrets():
    """Real data for every Secret template, keyed exactly as the templates are (so a template that gains or
    renames a key fails here)."""
    pki = _issue_pki()
    out = {}
    for path in SECRET_TEMPLATES:
        for template in documents(path):
            name = template["metadata"]["name"]
            keys = sorted({**template.get("data", {}), **template.get("stringData", {})})
            if name == "cang-root-key":
                assert keys == ["root-key"]
                out[name] = {"root-key": secrets.token_hex(32).encode() + b"\n"}
            elif name == "cang-console-key":
                assert keys == ["console-key"]
                out[name] = {"console-key": secrets.token_hex(32).encode() + b"\n"}
            else:
                identity = name.removeprefix("cang-tls-")
                assert identity in IDENTITIES and keys == ["ca.crt", "tls.crt", "tls.key"], name
                out[name] = pki[identity]
    assert set(out) == {"cang-root-key", "cang-console-key", *(f"cang-tls-{i}" for i in IDENTITIES)}
    return out


@pytest.fixture(scope="module")
def cluster(bin_dir, tmp_path_factory):
    binary = bin_dir / "cang"
    if not binary.is_file():
        pytest.fail(f"{binary} does not exist: build the workspace binaries first (scripts/test.sh does)")
    docs = kustomize(BASE) + documents(ADMIN_JOB)
    local = LocalCluster(docs, tmp_path_factory.mktemp("k8s"), binary, _secrets())
    kms = local.pod("StatefulSet", "kms")
    meta = local.pod("StatefulSet", "meta")
    gateway = local.pod("Deployment", "gateway")
    local.pod("Job", "cang-admin").materialise_volumes()
    try:
        for pod in (kms, meta):
            pod.start()
        for pod in (kms, meta):
            pod.wait_ready()
        gateway.start()
        gateway.wait_ready()
    except PodFailed as err:
        for pod in local.pods.values():
            pod.terminate()
        pytest.fail(str(err))
    yield local
    for pod in local.pods.values():
        pod.terminate()


def _admin(cluster, *args):
    """Runs the admin Job's container with `args` in place of its example args."""
    job = cluster.pod("Job", "cang-admin")
    container = job.spec["containers"][0]
    return json.loads(job.run_once(container, ["admin", "--json", *args]))


def test_stack_serves_encrypted_objects_and_stops_cleanly(cluster):
    account = _admin(cluster, "account", "create", "--name", "deploy-check")["id"]
    key = _admin(cluster, "--account", account, "key", "create")
    gateway = cluster.pods["gateway"]
    endpoint = f"http://127.0.0.1:{gateway.local_port('http')}"
    bucket = oss2.Bucket(oss2.Auth(key["access_key_id"], key["access_key_secret"]), endpoint, "deploy-check")
    bucket.create_bucket()

    marker = f"plaintext-marker-{uuid.uuid4().hex}".encode()
    body = marker * 4096  # ~200 KiB: several SSE segments
    for algorithm in ("KMS", "AES256"):
        name = f"object-{algorithm}"
        put = bucket.put_object(name, body, headers={"x-oss-server-side-encryption": algorithm})
        assert put.status == 200
        got = bucket.get_object(name)
        assert got.read() == body
        assert got.headers["x-oss-server-side-encryption"] == algorithm

    # meta keeps only ciphertext on its volume.
    data = cluster.pods["meta-0"].volumes["data"]
    for path in data.rglob("*"):
        if path.is_file():
            assert marker not in path.read_bytes(), f"plaintext found in {path}"

    # The console signs in with the same key; its bucket list (OSS through the gateway) and its key page (the
    # crypto service's OpenAPI, which looks the key up in meta) work as the manifests wire them.
    console = http.client.HTTPConnection("127.0.0.1", gateway.local_port("console"), timeout=30)
    origin = f"http://127.0.0.1:{gateway.local_port('console')}"
    form = urllib.parse.urlencode({"access_key_id": key["access_key_id"], "access_key_secret": key["access_key_secret"]})
    console.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
    signed_in = console.getresponse()
    signed_in.read()
    assert signed_in.status == 303, signed_in.status
    cookie = signed_in.getheader("set-cookie").split(";")[0]
    for path, expected in (("/", b"deploy-check"), ("/keys", b"alias/acs/oss")):
        console.request("GET", path, headers={"Cookie": cookie})
        page = console.getresponse()
        body = page.read()
        assert page.status == 200 and expected in body, (path, page.status)
    console.close()

    # SIGTERM, as the kubelet sends it: each process drains and exits 0 within its grace period.
    for pod_name in ("gateway", "meta-0", "kms-0"):
        pod = cluster.pods[pod_name]
        codes = pod.terminate()
        assert all(code == 0 for code in codes.values()), (
            f"{pod_name} exit codes {codes}:\n" + "\n".join(pod.log_text(n) for n in codes)
        )


def test_root_key_reaches_kms_owner_only(cluster):
    # Why the kms pod copies its root key with an init container: the Secret volume's file is group-readable
    # (fsGroup), which `cang kms` refuses. If that refusal ever goes away the init container can go too.
    kms = cluster.pods["kms-0"]
    root_key = kms.volumes["root-key-secret"] / "root-key"
    assert root_key.stat().st_mode & 0o777 == 0o440
    copied = kms.volumes["root-key"] / "root-key"
    assert copied.stat().st_mode & 0o077 == 0
    assert copied.read_bytes() == root_key.read_bytes()
