#!/usr/bin/env bash
# Runs the tests with Node 24: unit tests beside the code, integration tests against a throwaway PostgreSQL 15,
# end-to-end tests against the real pulumi CLI, a local kube-apiserver and PostgreSQL.
# Usage: scripts/test.sh [unit] [integration] [e2e]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit integration e2e)

tsc -p tsconfig.json
files=()
for s in "${suites[@]}"; do
  case "$s" in
    unit) files+=(dist/core/*.test.js dist/crd/*.test.js dist/provider/*.test.js dist/infra/*.test.js dist/controller/*.test.js) ;;
    integration) files+=(dist/test/integration/*.test.js) ;;
    e2e)
      bash scripts/toolchain.sh
      files+=(dist/test/lint/*.test.js dist/test/e2e/*.test.js) ;;
    *) echo "unknown suite: $s (use unit, integration or e2e)" >&2; exit 2 ;;
  esac
done
existing=()
for f in "${files[@]}"; do [ -e "$f" ] && existing+=("$f"); done
echo "node $(node --version): ${#existing[@]} test files"
node --test --test-reporter=spec "${existing[@]}"
