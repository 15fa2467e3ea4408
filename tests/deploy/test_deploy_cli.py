"""The manifests' command lines against the built `cang`: every flag a container passes is one the binary
accepts, and every CANG_* variable a container gets is one the subcommand reads."""

import re
import subprocess

import pytest

from k8s_manifests import ADMIN_JOB, BASE, all_containers, container_env_names, documents, kustomize, pod_spec, workloads

DOCS = kustomize(BASE) + documents(ADMIN_JOB)


def _cang_containers():
    out = []
    for workload in workloads(DOCS):
        for container, _ in all_containers(pod_spec(workload)):
            if container["command"][0].endswith("/cang"):
                out.append(pytest.param(container, id=f"{workload['metadata']['name']}/{container['name']}"))
    return out


def _run(binary, args):
    # No inherited CANG_* / OTEL_* variables: only what the manifest would give.
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})


def _subcommand_path(args):
    """The leading subcommand words of `args` (before the first flag)."""
    words = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    return words


@pytest.mark.parametrize("container", _cang_containers())
def test_command_line_parses(bin_dir, container):
    binary = bin_dir / "cang"
    # clap reports an unknown or malformed flag before it acts on --help.
    result = _run(binary, [*container["args"], "--help"])
    assert result.returncode == 0, f"`cang {' '.join(container['args'])}` rejected: {result.stderr}"
    assert "Usage:" in result.stdout


def test_a_renamed_flag_is_caught(bin_dir):
    # The check above is only worth something if clap refuses unknown flags even with --help after them.
    result = _run(bin_dir / "cang", ["kms", "--no-such-flag=1", "--help"])
    assert result.returncode != 0
    assert "--no-such-flag" in result.stderr


@pytest.mark.parametrize("container", _cang_containers())
def test_environment_names_are_read(bin_dir, container):
    words = _subcommand_path(container["args"])
    # A parent command's flags (e.g. `cang admin --tls-ca`) are listed only in the parent's help.
    read = set()
    for depth in range(1, len(words) + 1):
        result = _run(bin_dir / "cang", [*words[:depth], "--help"])
        assert result.returncode == 0, result.stderr
        read |= set(re.findall(r"\[env: (CANG_[A-Z0-9_]+)=", result.stdout))
    assert read, "help output lists no environment variables: the check below would be vacuous"
    for name in container_env_names(container, DOCS):
        if name.startswith("CANG_"):
            assert name in read, f"`cang {' '.join(words)}` does not read {name}"
        else:
            assert name.startswith("OTEL_"), f"unexpected variable {name}"
