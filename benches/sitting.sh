#!/usr/bin/env bash
# One benchmark sitting: for each area (MFCC, CTC, LSTM) and each thread count, the peer, then
# Hark, then the peer again, back to back. 1-thread runs are pinned to CPU 0 (`taskset -c 0`),
# 2-thread runs are unpinned. Logs (peer stdout, criterion stdout, criterion median JSON, load
# averages) go to $OUT (default /tmp/hark-sitting). Summarize with benches/sitting_report.py.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/hark-sitting}
PY=/work/peers-venv/bin/python
PEERS=/work/shared/peers
read -r -a CRIT <<< "${CRIT_ARGS:---warm-up-time 2 --measurement-time 8}"
mkdir -p "$OUT"
load() { echo "$(date -u +%H:%M:%S) $1 $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/load.txt"; }

# run <tag> <threads> <command...>: pinned to CPU 0 when threads = 1
run() {
  local tag=$1 nt=$2; shift 2
  local pin=()
  [[ $nt == 1 ]] && pin=(taskset -c 0)
  load "before $tag"
  "${pin[@]}" "$@" > "$OUT/$tag.log" 2> "$OUT/$tag.err"
  load "after  $tag"
}

# hark <tag> <threads> <bench> <filter>: a criterion run; then "<benchmark dir> <median ns>" for
# each benchmark it wrote (criterion's estimates.json newer than a marker touched before the run)
hark() {
  local tag=$1 nt=$2 bench=$3 filter=$4
  touch "$OUT/$tag.marker"
  run "$tag" "$nt" cargo bench --bench "$bench" -- "${CRIT[@]}" "$filter"
  find target/criterion -path '*/new/estimates.json' -newer "$OUT/$tag.marker" | sort |
    while read -r f; do
      echo "${f%/new/estimates.json} $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "$f")"
    done > "$OUT/$tag.medians"
}

area() {
  local name=$1 nt=$2 bench=$3 filter=$4; shift 4
  run "${name}_peer_t${nt}_a" "$nt" "$@"
  hark "${name}_hark_t${nt}" "$nt" "$bench" "$filter"
  run "${name}_peer_t${nt}_b" "$nt" "$@"
}

AREAS=${AREAS:-mfcc ctc lstm}
for a in $AREAS; do
  case $a in
    mfcc)
      area mfcc 1 mfcc 'mfcc39_600s/(offline_t1|online)' $PY $PEERS/mfcc_speed.py --threads 1
      area mfcc 2 mfcc 'mfcc39_600s/offline_t2' $PY $PEERS/mfcc_speed.py --threads 2 ;;
    ctc)
      area ctc 1 ctc 'ctc_loss_fwd_bwd_T300_B16_V29(_cpu_time)?/threads_1' \
        $PY $PEERS/ctc_speed.py --threads 1 --no-fixture
      area ctc 2 ctc 'ctc_loss_fwd_bwd_T300_B16_V29(_cpu_time)?/threads_2' \
        $PY $PEERS/ctc_speed.py --threads 2 --no-fixture ;;
    lstm)
      area lstm 1 lstm 'lstm_3x256_1thread' $PY $PEERS/lstm_speed.py --configs 3x256 --threads 1
      area lstm 2 lstm 'lstm_3x256_2thread' $PY $PEERS/lstm_speed.py --configs 3x256 --threads 2 ;;
  esac
done
load "end"
