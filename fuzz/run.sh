#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a bounded time:
#   fuzz/run.sh <seconds-per-target> [target ...]
# Exits non-zero when a target finds a crash, a hang (one input running over
# FUZZ_TIMEOUT seconds, default 10) or an out-of-memory, after printing where
# the input is and how to reproduce it; exits 2 when the build fails.
#
# Runs on the stable toolchain with cargo-fuzz and `--sanitizer none` (see
# README.md); install it with `cargo install --locked cargo-fuzz`.
# The committed corpus (fuzz/corpus/<target>) is read, never written: what a
# run discovers goes to a scratch directory (FUZZ_WORK, default a temporary
# directory, removed at the end unless FUZZ_KEEP=1).
# FUZZ_TARGET_DIR (default fuzz/target) keeps the instrumented build apart from
# the workspace's: other RUSTFLAGS would rebuild the whole tree each time.
set -uo pipefail

usage() { echo "usage: fuzz/run.sh <seconds-per-target> [target ...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
seconds=$1
shift
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage

fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
cd "$fuzz_dir"
all_targets=(client_message trigger_body credential)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
target_dir=${FUZZ_TARGET_DIR:-$fuzz_dir/target}
timeout=${FUZZ_TIMEOUT:-10}
work=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/alerthub-fuzz.XXXXXX")}
mkdir -p "$work"
[ "${FUZZ_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is missing; install it with: cargo install --locked cargo-fuzz" >&2
  exit 2
fi

# Release with debug assertions and the coverage instrumentation; no
# sanitizer, which is what keeps this on the stable toolchain.
common=(--sanitizer none --target-dir "$target_dir")

echo "fuzz: building ${targets[*]}"
start=$SECONDS
if ! cargo fuzz build "${common[@]}" >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "fuzz: the build failed" >&2
  exit 2
fi
echo "fuzz: built in $((SECONDS - start)) s"

failed=()
for target in "${targets[@]}"; do
  [ -d "corpus/$target" ] || { echo "fuzz: no corpus/$target" >&2; exit 2; }
  artifacts="$fuzz_dir/artifacts/$target"
  mkdir -p "$artifacts" "$work/$target"
  before=$(ls "$artifacts")
  log="$work/$target.log"
  echo "fuzz: $target for ${seconds} s"
  # The scratch directory comes first: libFuzzer writes new inputs there.
  cargo fuzz run "${common[@]}" "$target" "$work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  found=$(comm -13 <(echo "$before") <(ls "$artifacts") | grep -Ev '^slow-unit-' || true)
  if [ "$status" -eq 0 ] && [ -z "$found" ]; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$log" | sed "s/^/fuzz: $target: /"
    continue
  fi
  failed+=("$target")
  cp "$log" "$artifacts/last-failure.log"
  echo "fuzz: $target FAILED (exit $status); its whole log: $artifacts/last-failure.log" >&2
  # The failed check (a panic), or libFuzzer's verdict on a hang or OOM.
  grep -m1 -A4 'panicked at' "$log" >&2
  grep -E '^(SUMMARY|==[0-9]+== ERROR)|ALARM|out-of-memory|Test unit written' "$log" >&2
  [ -n "$found" ] || grep -Ev '^#[0-9]+ +(NEW|REDUCE|pulse)' "$log" | tail -n 30 >&2
  if [ -n "$found" ]; then
    for f in $found; do
      echo "fuzz: $target: input kept at $artifacts/$f" >&2
      echo "fuzz:   reproduce: (cd fuzz && cargo fuzz run --sanitizer none $target artifacts/$target/$f)" >&2
    done
  fi
done

echo "fuzz: ${#targets[@]} targets ran ${seconds} s each"
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: found problems in: ${failed[*]}" >&2
  exit 1
fi
