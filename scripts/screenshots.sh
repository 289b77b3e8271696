#!/usr/bin/env bash
# Screenshots of every tab of the desktop app, taken from the release binary in a virtual X
# server (Xvfb), with real content: Live listening to a spoken file, Files with transcripts, Train
# during a short real run on a spoken corpus made here with espeak-ng, Record and Models.
#
#   scripts/screenshots.sh [MODEL] [OUT_DIR]
#
# MODEL: the model Live/Files/Models use (default: $HARK_MODEL, else the shipped models/default).
# OUT_DIR: where the PNGs go (default: assets/screenshots). Needs: xvfb, imagemagick, espeak-ng
# (scripts/setup.sh). The app's settings go to a temporary XDG_DATA_HOME, never to yours.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-${HARK_MODEL:-}}"
OUT="${2:-assets/screenshots}"
TRAIN_WAIT="${TRAIN_WAIT:-100}"
mkdir -p "$OUT"
# HARK_BIN: a binary to use instead of building the release one.
if [ -z "${HARK_BIN:-}" ]; then
  cargo build --release --quiet
  HARK_BIN="$PWD/target/release/hark"
fi
BIN="$HARK_BIN"
WORK="$(mktemp -d)"
export XDG_DATA_HOME="$WORK/data" XDG_RUNTIME_DIR="$WORK/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

DISP=":$((100 + RANDOM % 100))"
Xvfb "$DISP" -screen 0 1100x760x24 -nolisten tcp 2>/dev/null &
XVFB=$!
APP=""
cleanup() {
  [ -n "$APP" ] && kill "$APP" 2>/dev/null || true
  kill "$XVFB" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export DISPLAY="$DISP"
sleep 1

model_args=()
[ -n "$MODEL" ] && model_args=(--model "$MODEL")

# Speech for Live and Files.
espeak-ng -s 150 -w "$WORK/weather.wav" "the weather will be cold and windy tomorrow morning. please bring a warm coat."
espeak-ng -v en-us+f2 -s 160 -w "$WORK/meeting.wav" "the meeting starts at nine. we will talk about the new project."
espeak-ng -v en-us+m3 -s 140 -w "$WORK/numbers.wav" "one two three four five six seven eight nine ten"

# A small spoken corpus for the Train screenshot (digits and commands, several voices).
words=(zero one two three four five six seven eight nine yes no up down left right go stop on off)
voices=(en-us en-us+m3 en-us+f2 en+m1)
mkdir -p "$WORK/corpus"
RANDOM=7
for i in $(seq -w 1 160); do
  text=""
  for _ in 1 2 3; do text="$text ${words[RANDOM % 20]}"; done
  espeak-ng -v "${voices[RANDOM % 4]}" -s $((140 + RANDOM % 60)) -p $((30 + RANDOM % 40)) \
    -w "$WORK/corpus/u$i.wav" "$text"
  echo "${text# }" > "$WORK/corpus/u$i.txt"
done

# shot NAME SECONDS ARGS...: start the app with ARGS, wait, screenshot the screen, quit it.
shot() {
  local name="$1" wait="$2"
  shift 2
  "$BIN" gui "$@" 2>"$WORK/$name.log" &
  APP=$!
  sleep "$wait"
  if ! kill -0 "$APP" 2>/dev/null; then
    echo "screenshots: the app exited early for $name:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
  fi
  import -window root "$OUT/$name.png"
  kill "$APP"
  wait "$APP" 2>/dev/null || true
  APP=""
  echo "screenshots: $OUT/$name.png"
}

shot live 14 --tab live --listen "$WORK/weather.wav" "${model_args[@]}"
shot files 10 --tab files "$WORK/weather.wav" "$WORK/meeting.wav" "$WORK/numbers.wav" "${model_args[@]}"
shot train "$TRAIN_WAIT" --tab train --train "$WORK/corpus" --epochs 40 --hidden 96 --layers 1 \
  "${model_args[@]}"
shot record 5 --tab record --record-to "$WORK/my-voice" "${model_args[@]}"
shot models 15 --tab models "${model_args[@]}"
