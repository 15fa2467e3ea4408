#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads untrusted input (fuzz/fuzz_targets/*.rs), with cargo-fuzz
# and libFuzzer on the stable toolchain (RUSTC_BOOTSTRAP admits the sanitizer flags). Installs cargo-fuzz
# if it is missing.
#
#   scripts/fuzz.sh                     every target to 1 000 000 executions (the long profile, ~2 min each)
#   scripts/fuzz.sh --smoke             every target for 5 seconds (the test command runs this)
#   scripts/fuzz.sh --runs N [TARGET…]  these targets to N executions
#   scripts/fuzz.sh --seconds S [TARGET…]
#
# Each target starts from fuzz/seeds/ (real SDK requests captured by tests/sdk/sig_capture.py, XML bodies and
# policy documents) plus the corpus it grew before (fuzz/corpus/, not committed). A crash stops the run with
# the input in fuzz/artifacts/<target>/; fix it and keep the input as a regression case. The executions of
# each target are printed at the end (and are what docs/reliability.md reports).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo/fuzz"

limit=(-runs=1000000)
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) limit=(-max_total_time=5) ;;
    --runs) limit=("-runs=$2"); shift ;;
    --seconds) limit=("-max_total_time=$2"); shift ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
all=(route signature xml headers sse policy kms)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

export RUSTC_BOOTSTRAP=1
echo "==> building the fuzz targets (instrumented, release)"
cargo fuzz build -O

seeds_of() {
  case "$1" in
    route|signature|headers) echo seeds/requests ;;
    *) echo "seeds/$1" ;;
  esac
}

declare -A executed
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "==> $target (${limit[*]})"
  log="$(mktemp)"
  # -rss_limit_mb: a target that grows past 2 GiB is a bug; -timeout: one input past 10 s is a hang.
  if ! cargo fuzz run -O "$target" "corpus/$target" "$(seeds_of "$target")" -- \
      "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $target failed: the input is in fuzz/artifacts/$target/" >&2
    rm -f "$log"
    exit 1
  fi
  executed[$target]="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rm -f "$log"
done

echo
echo "target      executions"
for target in "${targets[@]}"; do
  printf '%-11s %s\n' "$target" "${executed[$target]:-?}"
done
