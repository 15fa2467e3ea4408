"""The deployment's security and availability promises, read from the manifests: non-root and read-only
containers, one replica per redb volume, grace periods longer than the drain, network isolation of kms
and meta, readable Secrets, and certificates that name what the gateway dials."""

import re

import pytest

from k8s_manifests import (
    ADMIN_JOB,
    BASE,
    CERT_MANAGER,
    DEFAULT_DRAIN_SECS,
    all_containers,
    config_value,
    documents,
    find,
    kustomize,
    one,
    pod_spec,
    workloads,
)


@pytest.fixture(scope="module")
def docs():
    return kustomize(BASE) + documents(ADMIN_JOB)


def _containers(docs):
    for workload in workloads(docs):
        spec = pod_spec(workload)
        for container, is_init in all_containers(spec):
            yield workload, spec, container, is_init


def test_every_container_is_locked_down(docs):
    seen = 0
    for workload, spec, container, _ in _containers(docs):
        where = f"{workload['kind']}/{workload['metadata']['name']} container {container['name']}"
        pod_sc = spec.get("securityContext", {})
        sc = container.get("securityContext", {})
        assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
        assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where
        assert sc.get("readOnlyRootFilesystem") is True, where
        assert sc.get("allowPrivilegeEscalation") is False, where
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not sc.get("capabilities", {}).get("add"), where
        assert not sc.get("privileged"), where
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, where
        resources = container.get("resources", {})
        assert resources.get("requests", {}).get("cpu") and resources["requests"].get("memory"), where
        assert resources.get("limits", {}).get("memory"), where
        seen += 1
    assert seen >= 5


def test_stateful_services_run_exactly_one_replica_on_their_own_volume(docs):
    sets = find(docs, "StatefulSet")
    assert sorted(s["metadata"]["name"] for s in sets) == ["kms", "meta"]
    for sts in sets:
        name = sts["metadata"]["name"]
        # redb locks its file: a second replica could never open it.
        assert sts["spec"]["replicas"] == 1, name
        claims = [c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]]
        container = pod_spec(sts)["containers"][0]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert claims and all(c in mounts and not mounts[c].get("readOnly") for c in claims), name
        service = one(docs, "Service", sts["spec"]["serviceName"])
        assert service["spec"]["clusterIP"] == "None", f"{name}: the governing Service must be headless"
        assert find(docs, "HorizontalPodAutoscaler", name) == [], f"{name} must never be autoscaled"


def test_gateway_is_redundant_autoscaled_and_protected(docs):
    gateway = one(docs, "Deployment", "gateway")
    assert gateway["spec"]["replicas"] >= 2
    assert gateway["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    hpa = one(docs, "HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    pdb = one(docs, "PodDisruptionBudget", "gateway")
    assert pdb["spec"]["minAvailable"] == 1
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_grace_periods_outlast_the_drain(docs):
    gateway = one(docs, "Deployment", "gateway")
    spec = pod_spec(gateway)
    container = spec["containers"][0]
    drain = int(config_value(container, docs, "CANG_DRAIN_SECS") or DEFAULT_DRAIN_SECS)
    pause = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    # The kubelet counts the preStop hook against the grace period, then SIGTERM starts the drain.
    assert spec["terminationGracePeriodSeconds"] > pause + drain
    for name in ("kms", "meta"):
        # cang kms waits up to 10 s for the keystore to close after its server stops.
        assert pod_spec(one(docs, "StatefulSet", name))["terminationGracePeriodSeconds"] > 10


def _policy_admits(policies, target_labels, source_labels, port_name):
    """Whether ingress from a same-namespace pod with `source_labels` to `target_labels`:`port_name` is
    allowed by `policies` (NetworkPolicy semantics: isolated once selected, then the union of rules)."""
    selecting = [
        p for p in policies
        if p["spec"]["podSelector"].get("matchLabels", {}).items() <= target_labels.items()
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports is not None and not any(p.get("port") == port_name for p in ports):
                continue
            sources = rule.get("from")
            if sources is None:
                return True
            for peer in sources:
                assert set(peer) == {"podSelector"}, f"{policy['metadata']['name']}: unexpected peer {peer}"
                if peer["podSelector"].get("matchLabels", {}).items() <= source_labels.items():
                    return True
    return False


def test_network_policies_isolate_kms_and_meta(docs):
    policies = find(docs, "NetworkPolicy")
    labels = {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in workloads(docs)
    }
    admin = labels["cang-admin"]
    stranger = {"app": "something-else"}
    for target in ("kms", "meta"):
        assert any(
            p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels[target].items()
            for p in policies if p["metadata"]["name"] != "default-deny-ingress"
        ), f"no NetworkPolicy selects {target}"
        assert _policy_admits(policies, labels[target], labels["gateway"], "grpc")
        assert _policy_admits(policies, labels[target], admin, "grpc")
        assert not _policy_admits(policies, labels[target], stranger, "grpc")
    # meta never calls kms; kms's OpenAPI does call meta (access keys, RAM identities).
    assert not _policy_admits(policies, labels["kms"], labels["meta"], "grpc")
    assert not _policy_admits(policies, labels["kms"], labels["meta"], "openapi")
    assert not _policy_admits(policies, labels["kms"], stranger, "openapi")
    assert _policy_admits(policies, labels["kms"], labels["gateway"], "openapi")
    assert _policy_admits(policies, labels["meta"], labels["kms"], "grpc")
    assert _policy_admits(policies, labels["gateway"], stranger, "console")
    assert _policy_admits(policies, labels["gateway"], stranger, "http")
    assert not _policy_admits(policies, labels["gateway"], stranger, "grpc")


def test_secret_volumes_are_readable_by_the_non_root_user(docs):
    for workload in workloads(docs):
        spec = pod_spec(workload)
        for volume in spec.get("volumes", []):
            if "secret" not in volume:
                continue
            mode = volume["secret"].get("defaultMode", 0o644)
            # Secret files belong to root: the process reads them through fsGroup or the "other" bits.
            readable = "fsGroup" in spec.get("securityContext", {}) or mode & 0o004
            assert readable, f"{workload['metadata']['name']}: volume {volume['name']} unreadable"
            assert mode & 0o022 == 0, f"{workload['metadata']['name']}: {volume['name']} writable by others"


_ABSOLUTE = re.compile(r"(?<![\w.:/-])(/[\w.-]+(?:/[\w.-]+)*)")


def test_every_path_a_container_uses_is_mounted(docs):
    for workload, spec, container, _ in _containers(docs):
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
        texts = list(container.get("args", [])) + list(container.get("command", [])[1:])
        for cm in container.get("envFrom", []):
            for doc in find(docs, "ConfigMap", cm.get("configMapRef", {}).get("name")):
                texts.extend(v for v in doc["data"].values() if v.startswith("/"))
        for text in texts:
            for path in _ABSOLUTE.findall(text):
                assert any(path == m or path.startswith(m + "/") for m in mounts), (
                    f"{workload['metadata']['name']}/{container['name']}: {path} is on the read-only root "
                    "filesystem (or missing): mount a volume there"
                )


def test_dialled_names_are_in_the_certificates(docs):
    certificates = {
        c["spec"]["commonName"]: c["spec"].get("dnsNames", []) for c in find(kustomize(CERT_MANAGER), "Certificate")
    }
    gateway = pod_spec(one(docs, "Deployment", "gateway"))["containers"][0]
    for service, variable in (("kms", "CANG_KMS_ENDPOINT"), ("meta", "CANG_META_ENDPOINT")):
        endpoint = config_value(gateway, docs, variable)
        host, port = endpoint.removeprefix("https://").rsplit(":", 1)
        assert host in certificates[service], f"{variable}={endpoint}: {host} not in the {service} certificate"
        service_doc = one(docs, "Service", service)
        assert int(port) in [p["port"] for p in service_doc["spec"]["ports"]]


def test_every_service_exports_traces_to_the_configured_collector(docs):
    for workload in workloads(kustomize(BASE)):
        container = pod_spec(workload)["containers"][0]
        endpoint = config_value(container, docs, "OTEL_EXPORTER_OTLP_ENDPOINT")
        assert endpoint and endpoint.startswith(("http://", "https://")), workload["metadata"]["name"]


def test_long_running_containers_have_probes(docs):
    for workload in workloads(kustomize(BASE)):
        for container in pod_spec(workload)["containers"]:
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{workload['metadata']['name']}: no {probe}"
                # The kubelet's native gRPC probe speaks plaintext; every gRPC port here requires mTLS.
                assert "grpc" not in container[probe], f"{workload['metadata']['name']}: {probe} cannot do mTLS"
