"""Fixtures for the real-SDK suites: one `cang up` instance per session, SDK clients in both signature versions,
a shared CMK and fresh bucket names (tests never share buckets).
"""

import uuid

import pytest

from cang_up import ShutdownError, StartupError, oss2_bucket, oss_v2_client, running


@pytest.fixture(scope="session")
def cang(bin_dir, tmp_path_factory):
    binary = bin_dir / "cang"
    if not binary.is_file():
        pytest.fail(f"{binary} does not exist: build the workspace binaries first (scripts/test.sh does)")
    try:
        with running(binary, tmp_path_factory.mktemp("cang-up")) as instance:
            yield instance
    except (StartupError, ShutdownError) as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def cmk(cang):
    """A customer master key shared by tests that only encrypt and decrypt with it (never disable it)."""
    return cang.create_key()


@pytest.fixture
def bucket_name():
    """A bucket name no other test uses."""
    return f"sdk-{uuid.uuid4().hex[:20]}"


@pytest.fixture(params=["v1", "v4"])
def oss2_version(request):
    return request.param


@pytest.fixture
def oss2_factory(cang, oss2_version):
    """Builds oss2 buckets with the test's signature version: `factory(name, credentials=None)`."""

    def make(name, credentials=None):
        return oss2_bucket(cang, oss2_version, name, credentials)

    return make


@pytest.fixture(params=["v4", "v1"])
def oss_v2_version(request):
    return request.param


@pytest.fixture
def oss_v2_factory(cang, oss_v2_version):
    """Builds alibabacloud-oss-v2 clients with the test's signature version: `factory(credentials=None)`."""

    def make(credentials=None):
        return oss_v2_client(cang, oss_v2_version, credentials)

    return make
