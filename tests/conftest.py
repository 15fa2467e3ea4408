"""Shared fixtures: where the test command put the built binaries."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def bin_dir():
    path = pathlib.Path(os.environ.get("CANG_BIN_DIR", REPO / "target" / "debug"))
    if not path.is_dir():
        pytest.fail(f"{path} does not exist: build the workspace first (scripts/test.sh does)")
    return path
