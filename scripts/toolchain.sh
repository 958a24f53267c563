#!/usr/bin/env bash
# Builds the tools the tests need (Pulumi CLI, etcd, Kubernetes control plane, KWOK, the workflow and Dockerfile linters) from the
# Go module proxy, pinned to package.json's versions, into a cache outside the repo. A warm cache is a no-op.
# Usage: scripts/toolchain.sh [pulumi|etcd|kubernetes|kwok|actionlint|dockerfile-lint ...]   (default: all)
#        scripts/toolchain.sh paths   (prints the bin folders, builds nothing)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${PGKOPF_CACHE:-$HOME/.cache/pg-kopf}
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
export GOMODCACHE=${GOMODCACHE:-$(go env GOMODCACHE)}

version() { # version <key> from package.json: dependencies first, then "toolchain"
  node -e 'const p=require(process.argv[1]);const k=process.argv[2];const v=(p.dependencies||{})[k]||(p.toolchain||{})[k];if(!v)process.exit(1);console.log(v.replace(/^[^0-9]*/,""))' "$root/package.json" "$1"
}

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# wrapper <dir> <module-lines...>: a throwaway module that requires the real ones, so their replace
# directives to sibling folders (which `go install mod@v` refuses) are swapped for published versions.
wrapper() {
  local dir=$1; shift
  rm -rf "$dir"; mkdir -p "$dir"
  { echo "module pgkopf.local/toolchain"; echo; echo "go $(go env GOVERSION | sed 's/^go//; s/\([0-9]*\.[0-9]*\).*/\1/')"; echo; printf '%s\n' "$@"; } >"$dir/go.mod"
}

# nonlocal_replaces <go.mod>: the replace directives of a module that do not point at a folder
nonlocal_replaces() {
  awk '/^replace \(/{b=1;next} b&&/^\)/{b=0;next} b{print "replace " $0;next} /^replace /{print}' "$1" \
    | grep -v '=> *\.' || true
}

# pinned_local_replaces <go.mod>: each replace to a sibling folder, swapped for the version the module requires
pinned_local_replaces() {
  awk '/^require \(/{b=1;next} b&&/^\)/{b=0;next} b&&NF>=2{print "R",$1,$2;next} /^require [^(]/{print "R",$2,$3}
       /^replace \(/{r=1;next} r&&/^\)/{r=0;next} r&&/=> *\./{print "L",$1;next} /^replace [^(].*=> *\./{print "L",$2}' "$1" \
    | awk '$1=="R"{v[$2]=$3} $1=="L"{l[$2]=1} END{for(m in l) if(m in v) print "replace " m " => " m " " v[m]}'
}

modfile() { go mod download -json "$1" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p'; }
moddir() { go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'; }

build_pulumi() {
  local v; v=$(version @pulumi/pulumi)
  local out="$cache/pulumi-v$v"
  if [ -x "$out/bin/pulumi" ]; then log "pulumi v$v: cached"; return; fi
  log "pulumi v$v: building (cold: about 4 min on 2 cores)"
  local w="$cache/src/pulumi-v$v"
  wrapper "$w" "require github.com/pulumi/pulumi/pkg/v3 v$v" "require github.com/pulumi/pulumi/sdk/v3 v$v" \
    "$(nonlocal_replaces "$(modfile github.com/pulumi/pulumi/pkg/v3@v$v)")"
  printf 'package main\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >"$w/tools.go"
  (cd "$w" && go mod tidy >/dev/null 2>&1 || true
   mkdir -p "$out.tmp/bin"
   go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" \
     -o "$out.tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  # The dynamic-provider launcher is a script the SDK module ships; the CLI looks for it beside itself.
  install -m 0755 "$(moddir github.com/pulumi/pulumi/sdk/v3@v$v)/nodejs/dist/pulumi-resource-pulumi-nodejs" "$out.tmp/bin/"
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "pulumi v$v: done"
}

build_etcd() {
  local v; v=$(version etcd)
  local out="$cache/etcd-v$v"
  if [ -x "$out/bin/etcd" ]; then log "etcd v$v: cached"; return; fi
  log "etcd v$v: building"
  local w="$cache/src/etcd-v$v"
  local gomod; gomod=$(modfile go.etcd.io/etcd/server/v3@v$v)
  wrapper "$w" "require go.etcd.io/etcd/server/v3 v$v" "$(pinned_local_replaces "$gomod")" "$(nonlocal_replaces "$gomod")"
  printf 'package main\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' >"$w/tools.go"
  (cd "$w" && go mod tidy >/dev/null 2>&1 || true
   mkdir -p "$out.tmp/bin"
   go build -trimpath -ldflags "-s -w" -o "$out.tmp/bin/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "etcd v$v: done"
}

build_kubernetes() {
  local v; v=$(version kubernetes)
  local out="$cache/kubernetes-v$v"
  if [ -x "$out/bin/kube-apiserver" ] && [ -x "$out/bin/kube-controller-manager" ] && [ -x "$out/bin/kube-scheduler" ]; then
    log "kubernetes v$v: cached"; return; fi
  log "kubernetes v$v: building kube-apiserver, kube-controller-manager, kube-scheduler (cold: about 4 min on 2 cores)"
  local w="$cache/src/kubernetes-v$v"
  local staging="0.${v#1.}" # k8s.io/kubernetes v1.N.P publishes its staging modules as v0.N.P
  local lines=("require k8s.io/kubernetes v$v") mod
  for mod in $(grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$(modfile k8s.io/kubernetes@v$v)" | awk '{print $1}'); do
    lines+=("replace $mod => $mod v$staging")
  done
  wrapper "$w" "${lines[@]}"
  printf 'package main\nimport (\n _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n _ "k8s.io/kubernetes/cmd/kube-controller-manager/app"\n _ "k8s.io/kubernetes/cmd/kube-scheduler/app"\n)\n' >"$w/tools.go"
  local major=${v%%.*} minor; minor=$(echo "$v" | cut -d. -f2)
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$w" && go mod tidy >/dev/null 2>&1 || true
   mkdir -p "$out.tmp/bin"
   for c in kube-apiserver kube-controller-manager kube-scheduler; do
     log "kubernetes v$v: $c"
     go build -trimpath -ldflags "$ld" -o "$out.tmp/bin/$c" "k8s.io/kubernetes/cmd/$c"
   done)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "kubernetes v$v: done"
}

build_kwok() {
  local v; v=$(version kwok)
  local out="$cache/kwok-v$v"
  if [ -x "$out/bin/kwok" ] && [ -x "$out/bin/kwokctl" ]; then log "kwok v$v: cached"; return; fi
  log "kwok v$v: building kwok and kwokctl"
  local w="$cache/src/kwok-v$v"
  wrapper "$w" "require sigs.k8s.io/kwok v$v" "$(nonlocal_replaces "$(modfile sigs.k8s.io/kwok@v$v)")"
  printf 'package main\nimport (\n _ "sigs.k8s.io/kwok/pkg/kwok/cmd"\n _ "sigs.k8s.io/kwok/pkg/kwokctl/cmd"\n)\n' >"$w/tools.go"
  (cd "$w" && go mod tidy >/dev/null 2>&1 || true
   mkdir -p "$out.tmp/bin"
   for c in kwok kwokctl; do
     go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$v" -o "$out.tmp/bin/$c" "sigs.k8s.io/kwok/cmd/$c"
   done)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "kwok v$v: done"
}

build_actionlint() {
  local v; v=$(version actionlint)
  local out="$cache/actionlint-v$v"
  if [ -x "$out/bin/actionlint" ]; then log "actionlint v$v: cached"; return; fi
  log "actionlint v$v: building"
  mkdir -p "$out.tmp/bin"
  GOBIN="$out.tmp/bin" go install -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=v$v" \
    "github.com/rhysd/actionlint/cmd/actionlint@v$v"
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "actionlint v$v: done"
}

dockerfile_lint_dir() { echo "$cache/dockerfile-lint-$(cat "$root/tools/dockerfile-lint/go.sum" "$root/tools/dockerfile-lint/main.go" | sha256sum | cut -c1-12)"; }

# dockerfile-lint: BuildKit's Dockerfile checks as a small program of the project (tools/dockerfile-lint)
build_dockerfile-lint() {
  local out; out=$(dockerfile_lint_dir)
  if [ -x "$out/bin/dockerfile-lint" ]; then log "dockerfile-lint: cached"; return; fi
  log "dockerfile-lint: building"
  mkdir -p "$out.tmp/bin"
  (cd "$root/tools/dockerfile-lint" && go build -trimpath -ldflags "-s -w" -o "$out.tmp/bin/dockerfile-lint" .)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "dockerfile-lint: done"
}

# paths: the bin folders of the cached tools, one per line (for PATH); builds nothing
paths() {
  echo "$cache/pulumi-v$(version @pulumi/pulumi)/bin"
  echo "$cache/etcd-v$(version etcd)/bin"
  echo "$cache/kubernetes-v$(version kubernetes)/bin"
  echo "$cache/kwok-v$(version kwok)/bin"
  echo "$cache/actionlint-v$(version actionlint)/bin"
  echo "$(dockerfile_lint_dir)/bin"
}

main() {
  if [ "${1:-}" = paths ]; then paths; return; fi
  mkdir -p "$cache/src"
  local started=$SECONDS parts=("$@")
  [ ${#parts[@]} -gt 0 ] || parts=(pulumi etcd kubernetes kwok actionlint dockerfile-lint)
  for p in "${parts[@]}"; do "build_$p"; done
  log "all done in $((SECONDS - started))s; cache $(du -sh "$cache" 2>/dev/null | cut -f1) at $cache"
}

main "$@"
