#!/usr/bin/env bash
# Runs the tests with Node 24: unit tests beside the code, integration tests against a throwaway PostgreSQL 15,
# lint of the Dockerfile and the workflows, end-to-end tests against the real pulumi CLI, a local kube-apiserver and
# PostgreSQL.
# Usage: scripts/test.sh [unit] [integration] [lint] [e2e]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages and npm dependencies when missing; each suite below builds the tools it needs.
bash scripts/install.sh --no-toolchain
source scripts/env.sh
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit integration lint e2e)

tsc -p tsconfig.json
files=()
for s in "${suites[@]}"; do
  case "$s" in
    unit) files+=(dist/core/*.test.js dist/crd/*.test.js dist/provider/*.test.js dist/infra/*.test.js dist/controller/*.test.js dist/controller/kube/*.test.js dist/core/role/*.test.js) ;;
    integration) files+=(dist/test/integration/*.test.js) ;;
    lint)
      bash scripts/toolchain.sh actionlint dockerfile-lint
      files+=(dist/test/lint/*.test.js) ;;
    e2e)
      bash scripts/toolchain.sh
      files+=(dist/test/e2e/*.test.js) ;;
    *) echo "unknown suite: $s (use unit, integration, lint or e2e)" >&2; exit 2 ;;
  esac
done
existing=()
for f in "${files[@]}"; do [ -e "$f" ] && existing+=("$f"); done
echo "node $(node --version): ${#existing[@]} test files"
node --test --test-reporter=spec "${existing[@]}"
