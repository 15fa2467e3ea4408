"""What the oss2 suites check on every error: the (status, code) pair oss2 maps exceptions by, and a request id."""

import re


def expect_error(excinfo, status, code):
    """The oss2 exception carries this HTTP status and OSS code, and a 24-hex request id; returns it."""
    err = excinfo.value
    assert (err.status, err.code) == (status, code), f"{err.status} {err.code}: {err.message}"
    assert re.fullmatch(r"[0-9A-F]{24}", err.request_id), err.request_id
    return err
