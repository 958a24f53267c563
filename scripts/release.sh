#!/usr/bin/env bash
# `npm run release [-- --namespace NS] [-- --dry-run]`: removes pg-kopf's finalizers from every PgDatabase and PgRole
# once no controller runs (see controller/release.ts and the README's "After pulumi destroy"). Uses KUBECONFIG.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
[ -f dist/controller/release.js ] || tsc -p tsconfig.json
exec node dist/controller/release.js "$@"
