#!/usr/bin/env bash
# What fine-tuning on one new voice buys: for each voice the shipped model never heard, make
# 200 training utterances (the Record tab's prompts 1-200, read by that voice) and 100 test
# utterances (prompts 201-300), fine-tune the shipped model on the first N = 25, 50, 100, 200 with
# the Record tab's recipe (`hark train --init`, no other flags: the fine-tuning defaults), and score
# the test utterances before and after, greedy and with the shipped decoding.
#
# Usage: benches/voice_adapt.sh [OUT_DIR] [VOICES]   (default /tmp/hark-voices; held-out voices)
#   EXTRA="--lr 3e-4" benches/voice_adapt.sh ...      passes more flags to hark train (a variant)
#   NS="25 100" ...                                    other sizes
# Needs the TTS engines of ../shared/notes/corpus.md and a release build. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/hark-voices}
VOICES=${2:-"pico:en-US festival:ked_diphone flite:rms"}
NS=${NS:-"25 50 100 200"}
EXTRA=${EXTRA:-}
TAG=${TAG:-default}
HARK=${HARK:-target/release/hark}
BASE=${BASE:-models/default}
mkdir -p "$OUT"

score() { # DATA MODEL [flags] -> "CER WER"
  local data=$1 model=$2; shift 2
  "$HARK" eval "$data" --model "$model" "$@" --worst 0 --json "$OUT/score.json" >/dev/null 2>&1
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d.get("totals", d); print("%.2f %.2f" % (100*t["cer"], 100*t["wer"]))' "$OUT/score.json"
}

rows=()
for v in $VOICES; do
  slug=$(echo "$v" | tr ':+' '__')
  d="$OUT/$slug"
  if [ ! -f "$d/test/done" ]; then
    rm -rf "$d"; mkdir -p "$d"
    awk 'NR<=200 {print $0 "\t" tolower($0) "\tprompts"}' assets/prompts.txt > "$d/train.tsv"
    awk 'NR>200 {print $0 "\t" tolower($0) "\tprompts"}' assets/prompts.txt > "$d/test.tsv"
    # Transcripts in the alphabet: lower case, letters, apostrophes and spaces.
    for f in "$d/train.tsv" "$d/test.tsv"; do
      python3 - "$f" <<'PY'
import re, sys
rows = []
for line in open(sys.argv[1], encoding="utf-8"):
    tts, _, src = line.rstrip("\n").split("\t")
    t = re.sub(r"[^a-z' ]+", " ", tts.lower().replace("-", " "))
    rows.append(f"{tts}\t{' '.join(t.split())}\t{src}\n")
open(sys.argv[1], "w", encoding="utf-8").writelines(rows)
PY
    done
    python3 ../shared/tools/make_corpus.py synth --prompts "$d/train.tsv" --out "$d/train" \
      --voices "$v" --num 200 --seed 41 --prefix a --jobs 2 --sampling round-robin --clean-prob 0.7 >/dev/null
    python3 ../shared/tools/make_corpus.py synth --prompts "$d/test.tsv" --out "$d/test" \
      --voices "$v" --num 100 --seed 42 --prefix t --jobs 2 --sampling round-robin --clean-prob 0.7 >/dev/null
    touch "$d/test/done"
  fi
  read -r bc bw < <(score "$d/test" "$BASE" --no-lm --warps 1)
  read -r sc sw < <(score "$d/test" "$BASE")
  rows+=("| $v | 0 (shipped model) | $bc | $bw | $sc | $sw |")
  for n in $NS; do
    sub="$d/n$n"
    if [ ! -d "$sub" ]; then
      mkdir -p "$sub"
      for f in $(ls "$d/train" | grep '\.wav$' | sort | head -n "$n"); do
        ln -s "$d/train/$f" "$sub/$f"; ln -s "$d/train/${f%.wav}.txt" "$sub/${f%.wav}.txt"
      done
    fi
    run="$OUT/runs-$TAG/$slug-n$n"; mkdir -p "$OUT/runs-$TAG"
    if [ ! -f "$run/model.json" ]; then
      # shellcheck disable=SC2086
      "$HARK" train "$sub" --init "$BASE" --out "$run" --force --epochs 10 --val-percent 20 $EXTRA >"$run.log" 2>&1 || { echo "train failed: $run.log" >&2; exit 1; }
    fi
    read -r gc gw < <(score "$d/test" "$run" --no-lm --warps 1)
    read -r fc fw < <(score "$d/test" "$run")
    rows+=("| $v | $n | $gc | $gw | $fc | $fw |")
    echo "${rows[-1]}" >&2
  done
done
echo "| voice | fine-tuned on N utterances | greedy CER % | greedy WER % | shipped decoding CER % | shipped decoding WER % |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
