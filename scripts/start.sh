#!/usr/bin/env bash
# The main job, locally: installs and builds what is missing, then runs scripts/local.ts (PostgreSQL 15, a Kubernetes control
# plane with a real node, the controller image built and run as the Deployment's pod by `pulumi up` of the local stack, the
# sample PgDatabase). Pass --keep to leave it running, --fake-node for a KWOK node and the controller as a process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
source scripts/env.sh
tsc -p tsconfig.json
exec node dist/scripts/local.js "$@"
