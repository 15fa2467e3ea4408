#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, all Rust tests (unit, property, integration,
# doc), a short run of every fuzz target and the Python-side suites (format interoperability, real OSS SDKs, the web
# console in Debian's headless chromium) in a virtualenv created here. Needs only the Rust toolchain and python3; installs
# chromium and a CJK font from Debian when they are missing. Usage: scripts/test.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
venv="${CANG_VENV:-$repo/.venv}"
target="${CARGO_TARGET_DIR:-$repo/target}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "build binaries and examples"
cargo build --workspace --bins --examples

step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast --lib --bins --tests
fi
cargo test --workspace --doc

step "cang bench --quick (smoke run, no thresholds)"
"$target/debug/cang" bench --quick --json "$target/bench-smoke.json" --svg "$target/bench-smoke.svg"
"$target/debug/cang" bench --quick --json "$target/bench-jobs-smoke.json" jobs

step "fuzz targets, 5 s each (scripts/fuzz.sh --smoke; the long profile is scripts/fuzz.sh)"
scripts/fuzz.sh --smoke

step "Debian packages for the console's browser tests (chromium, a CJK font)"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk" || need+=(fonts-wqy-zenhei)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

step "Python virtualenv ($venv)"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt

step "Python tests"
CANG_BIN_DIR="$target/debug" "$venv/bin/python" -m pytest -q tests

printf '\nall checks passed\n'
