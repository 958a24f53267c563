#!/usr/bin/env bash
# The main job, locally: installs and builds what is missing, then runs scripts/local.ts (PostgreSQL 15, a Kubernetes control
# plane, `pulumi up` of the local stack, the controller, the sample PgDatabase). Pass --keep to leave it running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
source scripts/env.sh
tsc -p tsconfig.json
exec node dist/scripts/local.js "$@"
