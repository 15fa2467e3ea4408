"""Reading deploy/k8s as Kubernetes would: YAML documents, the kustomizations' resource lists, and the pod
templates of the workloads, so the tests check the manifests that are actually applied."""

import pathlib

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
BASE = K8S / "base"
CERT_MANAGER = K8S / "cert-manager"
SECRET_TEMPLATES = sorted((K8S / "secrets").glob("*.yaml"))
ADMIN_JOB = K8S / "admin" / "admin-job.example.yaml"

# Kubernetes release whose schemas the manifests are validated against (bundled by kubernetes-validate).
KUBERNETES_VERSION = "1.34.0"

# What the deployment promises about the gateway when CANG_DRAIN_SECS is not set (the CLI's default).
DEFAULT_DRAIN_SECS = 20

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "ClusterIssuer"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
# The only kustomization fields deploy/k8s uses; the reader below refuses others rather than ignore them.
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources"}


def documents(path):
    """Every non-empty YAML document of `path`."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def manifest_files():
    """Every Kubernetes manifest under deploy/k8s (kustomization files are not manifests)."""
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def kustomization_files():
    return sorted(K8S.rglob("kustomization.yaml"))


def kustomize(directory):
    """The resources `kubectl apply -k directory` creates, for the subset of kustomize deploy/k8s uses:
    `resources` (files and directories, recursively) and `namespace`."""
    spec = documents(directory / "kustomization.yaml")[0]
    unknown = set(spec) - KUSTOMIZATION_FIELDS
    if unknown:
        raise ValueError(f"{directory}/kustomization.yaml uses {sorted(unknown)}, which this reader does not model")
    out = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            out.extend(kustomize(target))
        else:
            out.extend(documents(target))
    namespace = spec.get("namespace")
    if namespace:
        for doc in out:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = namespace
    return out


def find(docs, kind, name=None):
    """Documents of `kind` (and `name`, if given)."""
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs, kind, name):
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected exactly one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def workloads(docs):
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def all_containers(spec):
    """(container, is_init) for every container of a pod spec."""
    return [(c, True) for c in spec.get("initContainers", [])] + [(c, False) for c in spec["containers"]]


def container_env_names(container, docs):
    """The environment variable names a container gets, with the ConfigMap each envFrom contributes."""
    names = [e["name"] for e in container.get("env", [])]
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        for doc in find(docs, kind, ref["name"]):
            names.extend(doc.get("data", {}))
            names.extend(doc.get("stringData", {}))
    return names


def config_value(container, docs, name):
    """The value `name` takes in `container`'s environment, or None."""
    for e in container.get("env", []):
        if e["name"] == name and "value" in e:
            return e["value"]
    value = None
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            for doc in find(docs, "ConfigMap", source["configMapRef"]["name"]):
                if name in doc.get("data", {}):
                    value = doc["data"][name]
    return value


def flag_value(container, flag):
    """The value of `--flag=value` or `--flag value` in a container's args, or None."""
    args = container.get("args", [])
    for i, arg in enumerate(args):
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
    return None
