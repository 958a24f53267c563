#!/usr/bin/env bash
# The main job, locally: builds what is missing, then runs scripts/local.ts (PostgreSQL 15, a Kubernetes control
# plane, `pulumi up` of the local stack, the controller, the sample PgDatabase). Pass --keep to leave it running.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/node ] || npm ci --no-audit --no-fund
bash scripts/toolchain.sh
source scripts/env.sh
tsc -p tsconfig.json
exec node dist/scripts/local.js "$@"
