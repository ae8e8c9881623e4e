#!/usr/bin/env bash
# The callweave test suite: installs what the tests need (Debian packages, cargo
# tools), then runs formatting and lint checks, every test, the fuzz targets for a
# bounded time each, and builds the benchmarks (timings are never asserted).
#
#   scripts/test.sh                 everything (what CI runs)
#   FUZZ_SECONDS=60 scripts/test.sh longer fuzzing (default 15 s per target)
#   CALLWEAVE_LOKI_OUTAGE_SECS=10   shorter Loki outage test (default 120 s)
#   SKIP_INSTALL=1 scripts/test.sh  do not touch packages
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

step() { printf '\n==> %s\n' "$*"; }

if [ -z "${SKIP_INSTALL:-}" ]; then
  # Real peers and independent decoders used by the tests:
  #   kamailio + siptrace  real HEPv3 sender (UDP and TCP) proxying SIPp calls
  #   sip-tester (SIPp)    real SIP UAC/UAS
  #   tshark               independent SIP message counts for every pcap fixture
  #   prometheus           promtool / a real server to run dashboard queries
  PKGS=(kamailio kamailio-extra-modules sip-tester tshark prometheus python3)
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    step "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The packaged services must not hold the ports the tests use.
  for svc in kamailio prometheus prometheus-node-exporter; do
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
    $SUDO pkill -x "$svc" >/dev/null 2>&1 || true
  done
  # node and npm run Grafana's LogQL grammar over the dashboards.
  if ! command -v npm >/dev/null 2>&1; then
    step "installing nodejs and npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    step "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
  fi
fi

# A clean clone builds everything once: incremental caches would only take disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "tests"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.log
test "${PIPESTATUS[0]}" -eq 0

step "benchmarks build (timings are reported, never asserted)"
# The dev profile proves every bench compiles and links while reusing the test
# build; BENCHMARKS.md has the optimised runs and their figures.
cargo build --workspace --benches --quiet

step "fuzz targets: build and run ${FUZZ_SECONDS}s each"
# cargo-fuzz needs nightly-only flags (sanitizers); RUSTC_BOOTSTRAP lets the
# pinned stable compiler accept them, so no second toolchain is needed.
export RUSTC_BOOTSTRAP=1
# One target directory for every fuzz workspace: their dependencies are shared.
export CARGO_TARGET_DIR="$PWD/target/fuzz"
fuzz_failed=0
for dir in crates/*/fuzz; do
  [ -d "$dir/fuzz_targets" ] || continue
  crate="$(basename "$(dirname "$dir")")"
  for target_file in "$dir"/fuzz_targets/*.rs; do
    target="$(basename "$target_file" .rs)"
    corpus="$(mktemp -d)"
    seeds=()
    [ -d "$dir/seeds/$target" ] && seeds+=("$dir/seeds/$target")
    [ -d "testdata/$crate" ] && seeds+=("testdata/$crate")
    echo "--- $crate/$target (seeds: ${seeds[*]:-none})"
    if ! cargo fuzz run --fuzz-dir "$dir" "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=1 \
        > "target/fuzz-$crate-$target.log" 2>&1; then
      echo "FUZZ FAILURE in $crate/$target:"; tail -40 "target/fuzz-$crate-$target.log"
      fuzz_failed=1
    else
      grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "target/fuzz-$crate-$target.log" | tail -1 || true
    fi
    rm -rf "$corpus"
  done
done
test "$fuzz_failed" -eq 0

step "summary"
unset CARGO_TARGET_DIR
grep -E "^test result:" target/test-output.log | awk '{p+=$4; f+=$6; i+=$8} END {printf "%d passed, %d failed\n", p, f}'
du -sh target 2>/dev/null | awk '{print "target directory: " $1}'
