#!/usr/bin/env bash
# The recorder's system packages, in one place: the Dockerfile runs this script, and so does local setup
# (scripts/setup.sh), so the container and local mode record with the same Chromium, ffmpeg, Xvfb and PulseAudio.
#
#   install-system-packages.sh            install what is missing (needs root; apt-get)
#   install-system-packages.sh --check    list what is missing; exit 1 if anything is
#   install-system-packages.sh --list     print the package names
set -euo pipefail

PACKAGES=(
  chromium          # the browser that joins the meeting (driven by playwright-core; nothing downloads a browser)
  ffmpeg            # capture (x11grab + pulse) and H.264/AAC encoding; ffprobe for checks
  xvfb              # the virtual display Chromium renders into
  pulseaudio        # the audio server; a null sink's monitor is what ffmpeg records
  pulseaudio-utils  # pactl and parec: keep the null sink on short blocks from the start (display.ts)
  fonts-dejavu-core # fonts so pages render text
  fonts-liberation  # metric-compatible Arial/Times/Courier for meeting UIs
  ca-certificates   # TLS to meeting hosts and S3
)

missing() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

case "${1:-}" in
  --list) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
  --check)
    m=$(missing)
    if [ -n "$m" ]; then echo "missing Debian packages: $(echo $m)"; exit 1; fi
    echo "all recorder system packages are installed"; exit 0 ;;
  "") ;;
  *) echo "unknown option: $1 (use --check or --list)" >&2; exit 2 ;;
esac

m=$(missing)
if [ -z "$m" ]; then
  echo "recorder system packages: all installed"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "recorder system packages missing: $(echo $m)" >&2
  echo "install them with: sudo apt-get install -y $(echo $m)" >&2
  exit 1
fi
echo "installing recorder system packages: $(echo $m)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $m
rm -rf /var/lib/apt/lists/*
