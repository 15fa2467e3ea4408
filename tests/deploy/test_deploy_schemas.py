"""Every manifest under deploy/k8s validates offline against the Kubernetes OpenAPI schemas (strict: unknown
fields fail), and both kustomizations resolve to the objects the deployment needs."""

import jsonschema
import kubernetes_validate
import pytest

from k8s_manifests import (
    BASE,
    CERT_MANAGER,
    K8S,
    KUBERNETES_VERSION,
    documents,
    find,
    kustomization_files,
    kustomize,
    manifest_files,
)

# cert-manager's CRDs are not in the Kubernetes schema bundle. These schemas cover the fields of
# cert-manager.io/v1 that deploy/k8s uses, with the types and enums of cert-manager's CRDs, and refuse any
# other field, so a typo cannot pass unnoticed.
_ISSUER_REF = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "kind": {"enum": ["Issuer", "ClusterIssuer"]},
        "group": {"type": "string"},
    },
}
_KEY_USAGES = [
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth",
    "client auth", "code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel",
    "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc",
]
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}},
}
CERT_MANAGER_SCHEMAS = {
    "Certificate": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "cert-manager.io/v1"},
            "kind": {"const": "Certificate"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["secretName", "issuerRef"],
                "additionalProperties": False,
                "properties": {
                    "secretName": {"type": "string", "minLength": 1},
                    "commonName": {"type": "string", "maxLength": 64},
                    "dnsNames": {"type": "array", "items": {"type": "string"}},
                    "ipAddresses": {"type": "array", "items": {"type": "string"}},
                    "isCA": {"type": "boolean"},
                    "duration": {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(h|m|s))+$"},
                    "renewBefore": {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(h|m|s))+$"},
                    "usages": {"type": "array", "items": {"enum": _KEY_USAGES}},
                    "privateKey": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "algorithm": {"enum": ["RSA", "ECDSA", "Ed25519"]},
                            "encoding": {"enum": ["PKCS1", "PKCS8"]},
                            "size": {"type": "integer"},
                            "rotationPolicy": {"enum": ["Never", "Always"]},
                        },
                    },
                    "issuerRef": _ISSUER_REF,
                },
            },
        },
    },
    "Issuer": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "cert-manager.io/v1"},
            "kind": {"const": "Issuer"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
                "properties": {
                    "selfSigned": {"type": "object", "additionalProperties": False},
                    "ca": {
                        "type": "object",
                        "required": ["secretName"],
                        "additionalProperties": False,
                        "properties": {"secretName": {"type": "string", "minLength": 1}},
                    },
                },
            },
        },
    },
}


def _document_ids():
    out = []
    for path in manifest_files():
        for index, doc in enumerate(documents(path)):
            out.append(pytest.param(doc, id=f"{path.relative_to(K8S)}#{index}-{doc.get('kind')}"))
    return out


@pytest.mark.parametrize("doc", _document_ids())
def test_manifest_validates(doc):
    if doc["apiVersion"].startswith("cert-manager.io/"):
        schema = CERT_MANAGER_SCHEMAS.get(doc["kind"])
        assert schema is not None, f"no structural schema for cert-manager kind {doc['kind']}"
        print(f"{doc['kind']} checked against the structural cert-manager schema: its CRD is not in the bundle")
        jsonschema.validate(doc, schema)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_there_are_manifests_to_validate():
    # Guards against the parametrised test above silently collecting nothing after a move.
    assert len(_document_ids()) >= 20


@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_resources_exist(path):
    spec = documents(path)[0]
    assert spec["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert spec["kind"] == "Kustomization"
    for entry in spec["resources"]:
        assert (path.parent / entry).exists(), f"{path}: resource {entry} does not exist"


def _kinds(docs):
    return sorted({(d["kind"], d["metadata"]["name"]) for d in docs})


def test_base_has_the_whole_stack_and_no_secrets():
    docs = kustomize(BASE)
    kinds = _kinds(docs)
    for expected in [
        ("Namespace", "cang"),
        ("StatefulSet", "kms"),
        ("StatefulSet", "meta"),
        ("Deployment", "gateway"),
        ("HorizontalPodAutoscaler", "gateway"),
        ("PodDisruptionBudget", "gateway"),
        ("Service", "gateway"),
        ("Service", "kms"),
        ("Service", "meta"),
    ]:
        assert expected in kinds
    # Applying a template Secret again would overwrite the real root key.
    assert find(docs, "Secret") == []
    assert all(d["metadata"].get("namespace") == "cang" for d in docs if d["kind"] != "Namespace")
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "duplicate objects in the base"


def test_cert_manager_overlay_issues_every_tls_secret_the_pods_mount():
    docs = kustomize(CERT_MANAGER)
    issued = {c["spec"]["secretName"] for c in find(docs, "Certificate")}
    mounted = set()
    for workload in [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]:
        for volume in workload["spec"]["template"]["spec"].get("volumes", []):
            name = volume.get("secret", {}).get("secretName", "")
            if name.startswith("cang-tls-"):
                mounted.add(name)
    assert mounted == {"cang-tls-gateway", "cang-tls-kms", "cang-tls-meta"}
    assert mounted | {"cang-tls-admin"} <= issued
    for cert in find(docs, "Certificate"):
        if not cert["spec"].get("isCA"):
            assert cert["spec"]["privateKey"]["encoding"] == "PKCS8", "cang reads PKCS#8 keys only"
            assert cert["spec"]["commonName"] == cert["spec"]["secretName"].removeprefix("cang-tls-")
