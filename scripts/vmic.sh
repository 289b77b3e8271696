#!/usr/bin/env bash
# A virtual microphone for tests on machines without a sound card (recipe: shared/notes/headless.md §1).
# A private PulseAudio server with a null sink ("vmic_sink") whose monitor is remapped into a normal
# source ("vmic", shown as "VirtualMic"); what is played into the sink is what the microphone hears,
# paced in real time. Clients opt in with PULSE_SERVER; without it the machine has no microphone.
#
#   scripts/vmic.sh start [ENV_FILE]   start the server, print `export PULSE_SERVER=...` (also to ENV_FILE)
#   scripts/vmic.sh play FILE.wav      play FILE into the microphone (returns when it has been heard)
#   scripts/vmic.sh stop               stop the latency keeper and the server
#   scripts/vmic.sh status             exit 0 when the server is up
# VMIC_DIR (default /tmp/hark-vmic) holds the socket, the log and the pid files.
set -euo pipefail
VMIC_DIR="${VMIC_DIR:-/tmp/hark-vmic}"
SOCKET="$VMIC_DIR/native"
export PULSE_SERVER="unix:$SOCKET"

up() { pactl info >/dev/null 2>&1; }

case "${1:-}" in
start)
  for tool in pulseaudio pactl parec paplay; do
    command -v "$tool" >/dev/null || { echo "vmic: $tool not found (apt-get install pulseaudio pulseaudio-utils)" >&2; exit 2; }
  done
  mkdir -p "$VMIC_DIR"
  chmod 700 "$VMIC_DIR"
  if ! up; then
    PULSE_RUNTIME_PATH="$VMIC_DIR" pulseaudio --daemonize=yes -n \
      --exit-idle-time=-1 --disallow-exit --log-target=file:"$VMIC_DIR/pulse.log" \
      --load="module-native-protocol-unix auth-anonymous=1 socket=$SOCKET" \
      --load="module-null-sink sink_name=vmic_sink rate=16000 channels=1 format=s16le" \
      --load="module-remap-source master=vmic_sink.monitor source_name=vmic source_properties=device.description=VirtualMic"
    for _ in $(seq 50); do up && break; sleep 0.1; done
    up || { echo "vmic: the server did not come up; see $VMIC_DIR/pulse.log" >&2; exit 1; }
    pactl set-default-source vmic
    pactl set-default-sink vmic_sink
    # Latency keeper: without a low-latency client the null sink renders 2 s blocks, so capture
    # would start 2 s late. It only takes effect after the current block, hence the wait.
    parec -d vmic --latency-msec=20 >/dev/null 2>&1 &
    echo $! >"$VMIC_DIR/keeper.pid"
    disown
    sleep 2.5
  fi
  line="export PULSE_SERVER=unix:$SOCKET"
  echo "$line"
  if [ -n "${2:-}" ]; then echo "$line" >"$2"; fi
  ;;
play)
  [ -f "${2:-}" ] || { echo "vmic: play needs an existing WAV file" >&2; exit 2; }
  up || { echo "vmic: not running (scripts/vmic.sh start)" >&2; exit 1; }
  paplay -d vmic_sink "$2"
  ;;
stop)
  if [ -f "$VMIC_DIR/keeper.pid" ]; then
    kill "$(cat "$VMIC_DIR/keeper.pid")" 2>/dev/null || true
    rm -f "$VMIC_DIR/keeper.pid"
  fi
  if up; then
    PULSE_RUNTIME_PATH="$VMIC_DIR" pulseaudio --kill 2>/dev/null || pactl exit 2>/dev/null || true
    for _ in $(seq 50); do up || break; sleep 0.1; done
  fi
  ;;
status)
  up
  ;;
*)
  echo "usage: scripts/vmic.sh start [ENV_FILE] | play FILE.wav | stop | status" >&2
  exit 2
  ;;
esac
