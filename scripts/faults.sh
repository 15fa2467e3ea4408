#!/usr/bin/env bash
# The fault suite's long profile: the three services as separate processes, a mixed oss2 load over every SSE
# mode checked against a journal of acknowledged writes, 200 SIGKILLs spread over kms, meta and the gateway,
# then kms and meta each SIGSTOPped for 30 s, then 30 s of a full disk under meta; bounded to 20 minutes. Prints a JSON summary (kills, requests,
# failures by kind, bytes verified, recovery time, violations) and exits non-zero on any violation.
# docs/reliability.md records the last result. The short profile runs in the test command
# (tests/faults/test_faults.py). Usage: scripts/faults.sh [extra flags of tests/faults/faults.py]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="${CANG_VENV:-$repo/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
cargo build --bin cang
exec "$venv/bin/python" tests/faults/faults.py --bin "${CARGO_TARGET_DIR:-$repo/target}/debug/cang" \
  --kills 200 --stop-seconds 30 --disk-full-seconds 30 --workers 6 --seconds 1200 "$@"
