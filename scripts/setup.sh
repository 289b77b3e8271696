#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Hark needs to build, run and test. Safe to run again: it only
# installs what is missing. Uses sudo when not run as root.
#   build:  libasound2-dev, pkg-config (cpal's ALSA backend)
#   tests:  espeak-ng and sox (speech made at test time), pulseaudio (virtual microphone), xvfb
#   fuzz:   time (CPU seconds per target in scripts/fuzz.sh)
#   GUI:    xvfb + imagemagick + xdotool (screenshots), mesa-vulkan-drivers (wgpu on the CPU;
#           without it wgpu falls back to OpenGL/llvmpipe)
set -euo pipefail
pkgs=(libasound2-dev pkg-config espeak-ng sox libsox-fmt-all
      pulseaudio pulseaudio-utils libasound2-plugins xvfb imagemagick xdotool
      mesa-vulkan-drivers libvulkan1 time)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
