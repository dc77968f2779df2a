#!/usr/bin/env bash
# Install the Debian packages Qt needs (and a CJK font) when running as root; otherwise print the
# apt-get command. Never fails the build: tests still run when a package cannot be had.
#   usage: .ci/system-deps.sh run|test|dist
set -u
RUNTIME="libegl1 libgl1 libx11-6 libx11-xcb1 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0
 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xkb1"
case "${1:-run}" in
  run) WANT="$RUNTIME fonts-noto-cjk libportaudio2" ;;  # PortAudio: line-in call recording and playback
  dist) WANT="$RUNTIME fonts-wqy-microhei libportaudio2 binutils nsis" ;;  # PyInstaller needs objdump; makensis
  *)   WANT="$RUNTIME fonts-wqy-microhei libportaudio2" ;;  # the self-test loads PortAudio
esac
command -v dpkg-query >/dev/null 2>&1 || { echo "system-deps: not a Debian system; install Qt 6 runtime libraries and a CJK font yourself"; exit 0; }
missing=""
for pkg in $WANT; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: please run:  sudo apt-get install -y$missing"
  exit 0
fi
echo "system-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq $missing >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq $missing >/dev/null 2>&1 || echo "system-deps: apt-get could not install$missing (continuing)"
fi
exit 0
