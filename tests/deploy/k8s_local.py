"""Runs the pods of the manifests as local processes, as a kubelet would run them, so a test exercises the
command lines, environments, mounts and probes exactly as written.

What changes between the cluster and this machine, and nothing else:
- `/usr/local/bin/cang` is the freshly built binary;
- each volume is a directory under a scratch root (Secrets and ConfigMaps written with the kubelet's
  `..data` symlink layout and file modes, fsGroup's group-read bit included), and every mount path in
  commands, args and environment values is replaced by its directory;
- every listen address `0.0.0.0:<containerPort>` becomes `127.0.0.1:<free port>`, and every Service name
  (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`, `pod.svc.ns.svc.cluster.local`) with a
  Service port becomes the loopback address of the pod behind it;
- the environment starts empty (no host variables leak in) apart from PATH and HOSTNAME.
"""

import base64
import os
import pathlib
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from k8s_manifests import all_containers, find, pod_spec

CANG_EXECUTABLE = "/usr/local/bin/cang"
PROBE_TIMEOUT = 2.0


class PodFailed(Exception):
    """A container exited, or never became ready; the message carries its log."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_projected(directory, files, mode):
    """Writes `files` (name -> bytes) the way the kubelet's atomic writer does: into a timestamped
    directory, published through a `..data` symlink, with one symlink per key."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = directory / "..2025_01_01_00_00_00.000000000"
    stamp.mkdir()
    for name, (data, file_mode) in files.items():
        target = stamp / name
        target.write_bytes(data)
        os.chmod(target, file_mode if file_mode is not None else mode)
    os.symlink(stamp.name, directory / "..data")
    for name in files:
        os.symlink(f"..data/{name}", directory / name)


class LocalPod:
    """One pod of a workload, its volumes materialised under `root`."""

    def __init__(self, cluster, workload, pod_name):
        self.cluster = cluster
        self.workload = workload
        self.name = pod_name
        self.spec = pod_spec(workload)
        self.labels = workload["spec"]["template"]["metadata"]["labels"]
        self.root = cluster.root / pod_name
        self.ports = {}  # containerPort -> local port
        self.named_ports = {}  # port name -> containerPort
        for container, _ in all_containers(self.spec):
            for port in container.get("ports", []):
                self.ports[port["containerPort"]] = free_port()
                if "name" in port:
                    self.named_ports[port["name"]] = port["containerPort"]
        self.volumes = {}
        self.processes = {}
        self.logs = {}

    def local_port(self, port):
        """The loopback port behind a container port given by number or name."""
        number = self.named_ports[port] if isinstance(port, str) else port
        return self.ports[number]

    def materialise_volumes(self):
        fs_group = self.spec.get("securityContext", {}).get("fsGroup")
        claims = {c["metadata"]["name"] for c in self.workload["spec"].get("volumeClaimTemplates", [])}
        for name in claims:
            path = self.root / "volumes" / name
            path.mkdir(parents=True)
            self.volumes[name] = path
        for volume in self.spec.get("volumes", []):
            path = self.root / "volumes" / volume["name"]
            if "emptyDir" in volume:
                path.mkdir(parents=True)
            elif "secret" in volume or "configMap" in volume:
                source = volume.get("secret") or volume["configMap"]
                kind = "Secret" if "secret" in volume else "ConfigMap"
                name = source.get("secretName") or source.get("name")
                data = self.cluster.object_data(kind, name)
                mode = source.get("defaultMode", 0o644)
                items = source.get("items") or [{"key": k, "path": k} for k in data]
                files = {}
                for item in items:
                    if item["key"] not in data:
                        raise PodFailed(f"{self.name}: {kind} {name} has no key {item['key']}")
                    file_mode = item.get("mode", mode)
                    if fs_group is not None:
                        # The kubelet gives fsGroup read access to every file of the volume.
                        file_mode |= 0o440
                    files[item["path"]] = (data[item["key"]], file_mode)
                _write_projected(path, files, mode)
            else:
                raise PodFailed(f"{self.name}: volume {volume['name']} has a type this runner does not model")
            self.volumes[volume["name"]] = path

    def rewrite(self, text, container):
        """`text` with mount paths, listen addresses and Service names made local."""
        mounts = sorted(container.get("volumeMounts", []), key=lambda m: -len(m["mountPath"]))
        for mount in mounts:
            local = str(self.volumes[mount["name"]])
            text = re.sub(re.escape(mount["mountPath"]) + r"(?=/|$|[\s'\";:])", local, text)
        for container_port, local in self.ports.items():
            text = re.sub(rf"(?:0\.0\.0\.0|\[::\]):{container_port}(?!\d)", f"127.0.0.1:{local}", text)
        return self.cluster.rewrite_service_names(text)

    def environment(self, container):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": self.name}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                data = self.cluster.object_data("ConfigMap", source["configMapRef"]["name"])
            else:
                data = self.cluster.object_data("Secret", source["secretRef"]["name"])
            env.update({k: v.decode() for k, v in data.items()})
        for entry in container.get("env", []):
            if "value" in entry:
                if "$(" in entry["value"]:
                    raise PodFailed(f"{self.name}: $(VAR) expansion is not modelled ({entry['name']})")
                env[entry["name"]] = entry["value"]
                continue
            ref = entry["valueFrom"]
            if "configMapKeyRef" in ref:
                data = self.cluster.object_data("ConfigMap", ref["configMapKeyRef"]["name"])
                env[entry["name"]] = data[ref["configMapKeyRef"]["key"]].decode()
            elif "secretKeyRef" in ref:
                data = self.cluster.object_data("Secret", ref["secretKeyRef"]["name"])
                env[entry["name"]] = data[ref["secretKeyRef"]["key"]].decode()
            else:
                raise PodFailed(f"{self.name}: env source {sorted(ref)} is not modelled")
        return {k: self.rewrite(v, container) for k, v in env.items()}

    def argv(self, container, args=None):
        command = container.get("command")
        if not command:
            raise PodFailed(f"{self.name}/{container['name']}: relies on the image entrypoint; name the command")
        words = [*command, *(container.get("args", []) if args is None else args)]
        argv = [self.rewrite(w, container) for w in words]
        if command[0] == CANG_EXECUTABLE:
            argv[0] = str(self.cluster.binary)
        return argv

    def run_once(self, container, args=None, timeout=60):
        """Runs a container to completion (init containers, jobs); returns its stdout."""
        workdir = self.root / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            self.argv(container, args),
            env=self.environment(container),
            cwd=workdir,
            capture_output=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise PodFailed(
                f"{self.name}/{container['name']} exited {result.returncode}:\n{result.stderr.decode(errors='replace')}"
            )
        return result.stdout.decode()

    def start(self):
        self.materialise_volumes()
        for container in self.spec.get("initContainers", []):
            self.run_once(container)
        for container in self.spec["containers"]:
            log = self.root / f"{container['name']}.log"
            self.logs[container["name"]] = log
            workdir = self.root / "work"
            workdir.mkdir(parents=True, exist_ok=True)
            with open(log, "wb") as out:
                self.processes[container["name"]] = subprocess.Popen(
                    self.argv(container),
                    env=self.environment(container),
                    cwd=workdir,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )

    def log_text(self, name):
        return self.logs[name].read_text(errors="replace")[-4000:]

    def probe(self, container, probe):
        """One attempt of a probe from the manifest; True when it passes."""
        if "tcpSocket" in probe:
            try:
                with socket.create_connection(("127.0.0.1", self.local_port(probe["tcpSocket"]["port"])), PROBE_TIMEOUT):
                    return True
            except OSError:
                return False
        if "httpGet" in probe:
            get = probe["httpGet"]
            if get.get("scheme", "HTTP") != "HTTP":
                raise PodFailed(f"{self.name}: only plain HTTP probes are modelled")
            url = f"http://127.0.0.1:{self.local_port(get['port'])}{get.get('path', '/')}"
            try:
                with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:
                    return 200 <= response.status < 400
            except (urllib.error.URLError, OSError):
                return False
        if "exec" in probe:
            argv = [self.rewrite(w, container) for w in probe["exec"]["command"]]
            if probe["exec"]["command"][0] == CANG_EXECUTABLE:
                argv[0] = str(self.cluster.binary)
            result = subprocess.run(argv, env=self.environment(container), capture_output=True, timeout=PROBE_TIMEOUT * 5)
            return result.returncode == 0
        raise PodFailed(f"{self.name}: probe {sorted(probe)} is not modelled (a kubelet gRPC probe cannot do mTLS)")

    def wait_ready(self, deadline_seconds=60):
        """Waits until every container's startup and readiness probes pass (as the kubelet gates the
        endpoints); fails as soon as a container exits."""
        deadline = time.monotonic() + deadline_seconds
        for container in self.spec["containers"]:
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = container.get(kind)
                if probe is None:
                    continue
                while not self.probe(container, probe):
                    process = self.processes[container["name"]]
                    if process.poll() is not None:
                        raise PodFailed(f"{self.name}/{container['name']} exited {process.returncode}:\n"
                                        f"{self.log_text(container['name'])}")
                    if time.monotonic() > deadline:
                        raise PodFailed(f"{self.name}/{container['name']}: {kind} never passed:\n"
                                        f"{self.log_text(container['name'])}")
                    time.sleep(0.2)

    def terminate(self):
        """SIGTERM, then the grace period; returns {container: exit code} (None if it had to be killed)."""
        grace = self.spec.get("terminationGracePeriodSeconds", 30)
        codes = {}
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                codes[name] = None
        return codes


class LocalCluster:
    """The objects of a set of manifests plus Secret data supplied by the test; pods started on demand."""

    def __init__(self, docs, root, binary, secrets):
        self.docs = docs
        self.root = pathlib.Path(root)
        self.binary = binary
        self.secrets = secrets  # Secret name -> {key: bytes}
        self.pods = {}

    def object_data(self, kind, name):
        if kind == "Secret":
            if name not in self.secrets:
                raise PodFailed(f"Secret {name} does not exist")
            return self.secrets[name]
        found = find(self.docs, kind, name)
        if not found:
            raise PodFailed(f"{kind} {name} does not exist")
        data = {k: v.encode() for k, v in found[0].get("data", {}).items()}
        data.update({k: base64.b64decode(v) for k, v in found[0].get("binaryData", {}).items()})
        return data

    def pod(self, kind, name):
        """The (first) pod of a workload, created without starting it."""
        workload = find(self.docs, kind, name)[0]
        pod_name = f"{name}-0" if kind == "StatefulSet" else name
        if pod_name not in self.pods:
            self.pods[pod_name] = LocalPod(self, workload, pod_name)
        return self.pods[pod_name]

    def rewrite_service_names(self, text):
        for service in find(self.docs, "Service"):
            name = service["metadata"]["name"]
            namespace = service["metadata"].get("namespace", "default")
            backing = [
                p for p in self.pods.values()
                if service["spec"]["selector"].items() <= p.labels.items()
            ]
            if not backing:
                continue
            pod = backing[0]
            hosts = [
                f"{pod.name}.{name}.{namespace}.svc.cluster.local",
                f"{name}.{namespace}.svc.cluster.local",
                f"{name}.{namespace}.svc",
                f"{name}.{namespace}",
                name,
            ]
            for port in service["spec"]["ports"]:
                local = pod.local_port(port.get("targetPort", port["port"]))
                for host in hosts:
                    text = re.sub(rf"(?<![\w.-]){re.escape(host)}:{port['port']}(?!\d)", f"127.0.0.1:{local}", text)
        return text
