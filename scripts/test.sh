#!/usr/bin/env bash
# Runs the tests with Node 24: unit tests beside the code, integration tests against throwaway Postgres servers of
# every supported major (13 to 18), each with a superuser admin and with a CREATEDB CREATEROLE admin as managed
# services give, lint of the Dockerfile and the workflows, end-to-end tests against the real pulumi CLI, a local
# kube-apiserver and PostgreSQL 15.
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
    # Unit tests sit beside the code, in every room of every layer.
    unit) mapfile -t -O "${#files[@]}" files < <(find dist/core dist/crd dist/provider dist/infra dist/controller -name '*.test.js' | sort) ;;
    integration) matrix=1 ;;
    lint)
      bash scripts/toolchain.sh actionlint dockerfile-lint
      files+=(dist/test/lint/*.test.js) ;;
    e2e)
      bash scripts/toolchain.sh
      e2e_matrix=1
      files+=(dist/test/e2e/*.test.js) ;;
    *) echo "unknown suite: $s (use unit, integration, lint or e2e)" >&2; exit 2 ;;
  esac
done
# A suite once per matrix cell (major x admin), two cells at a time, each in its own test process (PGKOPF_PG_MAJOR
# and PGKOPF_PG_ADMIN pick the server: test/harness/postgres.ts); a failed cell prints its log.
# Usage: run_matrix <label> "<major> <admin>"... -- <test files>
run_matrix() {
  local label=$1; shift
  local cells=()
  while [ "$1" != "--" ]; do cells+=("$1"); shift; done
  shift
  local logs failed=""
  logs=$(mktemp -d)
  printf '%s\n' "${cells[@]}" | MATRIX_LABEL=$label MATRIX_LOGS=$logs MATRIX_FILES="$*" xargs -P "${PGKOPF_MATRIX_JOBS:-2}" -L 1 bash -c '
    log="$MATRIX_LOGS/$1-$2.log"
    # shellcheck disable=SC2086 # the file list, split on purpose
    if PGKOPF_PG_MAJOR=$1 PGKOPF_PG_ADMIN=$2 node --test --test-reporter=spec $MATRIX_FILES >"$log" 2>&1; then r=ok; else r=FAILED; fi
    echo "[$MATRIX_LABEL] Postgres $1, $2 admin: $r ($(grep -E "^ℹ (pass|fail) " "$log" | tr "\n" " "))"
    [ "$r" = ok ]' _ || failed=1
  if [ -n "$failed" ]; then
    for log in "$logs"/*.log; do grep -q "^ℹ fail 0" "$log" || { echo "== $log"; sed -n "/failing tests:/,\$p" "$log"; }; done
    return 1
  fi
}

# The integration suite on every cell.
if [ "${matrix:-}" = 1 ]; then
  cells=()
  for major in ${PGKOPF_MATRIX_MAJORS:-13 14 15 16 17 18}; do
    for admin in superuser createrole; do cells+=("$major $admin"); done
  done
  run_matrix integration "${cells[@]}" -- dist/test/integration/*.test.js
fi
# The key end-to-end cases through the pulumi CLI (databases and roles created, altered and dropped, access with
# later tables, rotation, twenty roles at once) on every major with the CREATEDB CREATEROLE admin, and on 18 with a
# superuser; 15 with a superuser is the main run. The superuser's path does not differ between majors (the
# integration suite runs it on each); the non-superuser admin's does (before 15 the public schema is the bootstrap
# superuser's; from 16 memberships have INHERIT and SET options).
if [ "${e2e_matrix:-}" = 1 ]; then
  IFS=, read -ra e2e_cells <<<"${PGKOPF_E2E_CELLS:-13 createrole,14 createrole,15 createrole,16 createrole,17 createrole,18 createrole,18 superuser}"
  run_matrix e2e "${e2e_cells[@]}" -- dist/test/e2e/pulumi.test.js dist/test/e2e/roles.test.js dist/test/e2e/parallel.test.js dist/test/e2e/previewRefusals.test.js
fi
[ ${#files[@]} -gt 0 ] || exit 0

existing=()
for f in "${files[@]}"; do [ -e "$f" ] && existing+=("$f"); done
echo "node $(node --version): ${#existing[@]} test files"
node --test --test-reporter=spec "${existing[@]}"
