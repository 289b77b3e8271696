#!/usr/bin/env bash
# The coverage-guided fuzz campaign (cargo-fuzz + libFuzzer, nightly toolchain) over every parser a
# user's file reaches; the targets are in src/fuzzing.rs, their seeds in fuzz/corpus/TARGET/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]     (default 60 s, every target)
#
# HARK_FUZZ_JOBS=N runs N targets at once (default 1); each still gets SECONDS of wall time, and
# the user+system CPU seconds each one got are reported beside it, since parallel targets share cores.
#
# Each target runs in a working corpus outside the repository (HARK_FUZZ_WORK, default
# /tmp/hark-fuzz/TARGET, seeded from fuzz/corpus/TARGET), with libFuzzer's limits: 2 GB resident,
# and any single allocation above 1 GB counts as a crash (a size claim that was believed). Crashing
# inputs land in fuzz/artifacts/TARGET/; once fixed, copy them to fuzz/regressions/TARGET/, where
# tests/fuzz_corpora.rs replays them on stable in every test run. Prints executions and crashes per
# target, and appends them to $HARK_FUZZ_WORK/campaign.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(audio model arpa manifest decoder_config hot_words)
fi
work="${HARK_FUZZ_WORK:-/tmp/hark-fuzz}"
scripts/setup.sh   # the system packages the build needs (libasound2-dev for cpal), and /usr/bin/time
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
(cd fuzz && cargo +nightly fuzz build -O)
mkdir -p "$work"
jobs="${HARK_FUZZ_JOBS:-1}"
printf 'target\tseconds\tcpu_seconds\texecutions\tcrashes\tcorpus\tdate\n' >"$work/last.tsv"
run_one() {
  local t="$1"
  mkdir -p "$work/$t" "fuzz/artifacts/$t"
  cp -n fuzz/corpus/"$t"/* "$work/$t"/ 2>/dev/null || true
  local log="$work/$t.log"
  # -fork would survive crashes; a plain run stops at the first one, which is what we want to see.
  # The binary built above, run directly: `cargo fuzz run` would rebuild if the sources changed
  # since, in the middle of a campaign. /usr/bin/time -f gives the CPU seconds the run had.
  /usr/bin/time -f '%U %S' -o "$work/$t.cpu" \
    "fuzz/target/x86_64-unknown-linux-gnu/release/$t" "$work/$t" \
     -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 \
     -max_len=65536 -print_final_stats=1 -artifact_prefix="$PWD/fuzz/artifacts/$t/" >"$log" 2>&1 || true
  local execs crashes corpus cpu
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  corpus=$(find "$work/$t" -type f | wc -l)
  cpu=$(awk 'END { printf "%.0f", $1 + $2 }' "$work/$t.cpu" 2>/dev/null || echo 0)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$secs" "$cpu" "${execs:-0}" "$crashes" "$corpus" \
    "$(date -u +%FT%TZ)" | tee -a "$work/last.tsv" >>"$work/campaign.tsv"
}
command -v /usr/bin/time >/dev/null || { echo "fuzz.sh: /usr/bin/time is needed (apt-get install time)" >&2; exit 2; }
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait
column -t -s $'\t' "$work/last.tsv"
