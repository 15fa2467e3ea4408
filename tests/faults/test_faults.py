"""The fault suite's short profile, in the test command: 12 SIGKILLs over kms, meta and the gateway, a 3 s
SIGSTOP of kms and of meta, and 3 s of a full disk under meta, all under a mixed oss2 load; nothing acknowledged
may be lost, nothing partial seen, no 500 answered, no service panic, and writes resume once the disk has room.
The long profile is `scripts/faults.sh`."""

import json
import subprocess
import sys
import pathlib

HERE = pathlib.Path(__file__).resolve().parent


def test_the_short_fault_profile_loses_nothing(bin_dir):
    done = subprocess.run(
        [sys.executable, str(HERE / "faults.py"), "--bin", str(bin_dir / "cang"), "--kills", "12",
         "--stop-seconds", "3", "--seconds", "90"],
        capture_output=True, text=True, timeout=300,
    )
    summary = json.loads(done.stdout) if done.stdout.strip() else {}
    assert done.returncode == 0, (summary.get("violations"), done.stderr[-2000:])
    assert sum(summary["kills"].values()) >= 12, summary  # and one more: meta restarted onto a full disk
    assert summary["disk_full_recovery_seconds"] < 60, summary
    assert summary["requests"]["ok"] > 100, summary
    assert summary["bytes_verified_after"] > 0, summary
