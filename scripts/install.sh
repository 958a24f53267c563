#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine: Debian packages (PostgreSQL 15, openssl, kubectl, shellcheck),
# the npm dependencies (Node 24 among them) and the toolchain built from Go modules. Cached work is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in postgresql-15 openssl kubectl shellcheck; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "[install] Debian packages: ${need[*]}"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "[install] npm dependencies (includes Node 24)"
npm ci --no-audit --no-fund

echo "[install] toolchain"
bash scripts/toolchain.sh
