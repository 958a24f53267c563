#!/usr/bin/env bash
# Builds the tools the tests need (Pulumi CLI, etcd, Kubernetes control plane, KWOK, the workflow and Dockerfile linters) from the
# Go module proxy, pinned to package.json's versions, into a cache outside the repo. A warm cache is a no-op.
# The two Pulumi plugins the proxy cannot serve (the kubernetes resource plugin, the nodejs language host) are built from
# upstream source archives in ../shared/vendor (PGKOPF_VENDOR), or installed the normal way where those are absent.
# Usage: scripts/toolchain.sh [pulumi|language-nodejs|kubernetes-plugin|etcd|kubernetes|kubernetes-node|coredns|pause|kwok|actionlint|dockerfile-lint ...]
#        scripts/toolchain.sh postgresql-plugin   (the Pulumi benchmark's anchor; not built by default)
#        scripts/toolchain.sh paths         (prints the bin folders, builds nothing)
#        scripts/toolchain.sh pulumi-home   (prints the PULUMI_HOME holding the plugins, builds nothing)
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

# kubernetes_commands <folder> <command...>: builds commands of k8s.io/kubernetes at package.json's version into
# $cache/<folder>-v<version>/bin, with the version stamps kubectl and the API server report.
kubernetes_commands() {
  local folder=$1; shift
  local v; v=$(version kubernetes)
  local out="$cache/$folder-v$v" w="$cache/src/$folder-v$v" c
  local staging="0.${v#1.}" # k8s.io/kubernetes v1.N.P publishes its staging modules as v0.N.P
  local lines=("require k8s.io/kubernetes v$v") mod
  for mod in $(grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging' "$(modfile "k8s.io/kubernetes@v$v")" | awk '{print $1}'); do
    lines+=("replace $mod => $mod v$staging")
  done
  wrapper "$w" "${lines[@]}"
  { printf 'package main\nimport (\n'; for c in "$@"; do printf ' _ "k8s.io/kubernetes/cmd/%s/app"\n' "$c"; done; printf ')\n'; } >"$w/tools.go"
  local major=${v%%.*} minor; minor=$(echo "$v" | cut -d. -f2)
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$w" && go mod tidy >/dev/null 2>&1 || true
   mkdir -p "$out.tmp/bin"
   for c in "$@"; do
     log "kubernetes v$v: $c"
     go build -trimpath -ldflags "$ld" -o "$out.tmp/bin/$c" "k8s.io/kubernetes/cmd/$c"
   done)
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_kubernetes() {
  local v; v=$(version kubernetes)
  local out="$cache/kubernetes-v$v"
  if [ -x "$out/bin/kube-apiserver" ] && [ -x "$out/bin/kube-controller-manager" ] && [ -x "$out/bin/kube-scheduler" ]; then
    log "kubernetes v$v: cached"; return; fi
  log "kubernetes v$v: building kube-apiserver, kube-controller-manager, kube-scheduler (cold: about 4 min on 2 cores)"
  kubernetes_commands kubernetes kube-apiserver kube-controller-manager kube-scheduler
  log "kubernetes v$v: done"
}

# kubelet and kube-proxy, for the real node (test/harness/node.ts): the same module and version stamps as the control
# plane, in their own folder so the fast suites never wait for them.
build_kubernetes-node() {
  local v; v=$(version kubernetes)
  local out="$cache/kubernetes-node-v$v"
  if [ -x "$out/bin/kubelet" ] && [ -x "$out/bin/kube-proxy" ]; then log "kubelet, kube-proxy v$v: cached"; return; fi
  log "kubelet, kube-proxy v$v: building (cold: about 7 min on 2 cores)"
  kubernetes_commands kubernetes-node kubelet kube-proxy
  log "kubelet, kube-proxy v$v: done"
}

# CoreDNS, run on the real node as a host process behind the kube-dns Service (pods resolve cluster names through it).
build_coredns() {
  local v; v=$(version coredns)
  local out="$cache/coredns-v$v"
  if [ -x "$out/bin/coredns" ]; then log "coredns v$v: cached"; return; fi
  log "coredns v$v: building"
  local w="$cache/src/coredns-v$v"
  wrapper "$w" "require github.com/coredns/coredns v$v" "$(nonlocal_replaces "$(modfile github.com/coredns/coredns@v$v)")"
  printf 'package main\nimport _ "github.com/coredns/coredns/coremain"\n' >"$w/tools.go"
  (cd "$w" && go mod tidy >/dev/null 2>&1 || true
   mkdir -p "$out.tmp/bin"
   go build -trimpath -ldflags "-s -w" -o "$out.tmp/bin/coredns" github.com/coredns/coredns)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "coredns v$v: done"
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

vendor=${PGKOPF_VENDOR:-$root/../shared/vendor}

# vendored <name>: the path of a verified upstream source archive in $vendor, or nothing when it is absent.
# Fails when the archive is there but its sha256 is not the one MANIFEST.md records.
vendored() {
  local archive="$vendor/$1.tar.gz"
  [ -f "$archive" ] || return 0
  local want; want=$(awk -v a="## $1.tar.gz" '$0==a{f=1;next} /^## /{f=0} f&&/sha256:/{print $NF}' "$vendor/MANIFEST.md")
  local have; have=$(sha256sum "$archive" | cut -d' ' -f1)
  if [ -z "$want" ] || [ "$want" != "$have" ]; then
    log "$archive: sha256 $have is not the one in $vendor/MANIFEST.md (${want:-none}); refusing to build from it"; return 1
  fi
  echo "$archive"
}

# The plugins the engine loads live in the toolchain's own PULUMI_HOME, shared by every stack the project runs.
pulumi_home() { echo "$cache/pulumi-home"; }

plugin_installed() { [ -x "$(pulumi_home)/plugins/$1-v$2/pulumi-$1" ] || [ -x "$(pulumi_home)/plugins/$1-v$2/pulumi-resource-${1#resource-}" ]; }

# pulumi-language-nodejs: the language host that runs `pulumi up` of a Pulumi.yaml project. Built from the vendored
# upstream source with the CLI's own pkg/sdk modules (the tag's go.mod points at sibling folders), and put next to the
# CLI, where the engine looks for the plugins the CLI bundles.
build_language-nodejs() {
  local v; v=$(version @pulumi/pulumi)
  local out="$cache/pulumi-v$v/bin/pulumi-language-nodejs"
  if [ -x "$out" ]; then log "pulumi-language-nodejs v$v: cached"; return; fi
  local archive; archive=$(vendored "pulumi-language-nodejs-v$v")
  if [ -z "$archive" ]; then
    # A machine that can download: the released language host.
    log "pulumi-language-nodejs v$v: no vendored source; installing the released language host"
    PULUMI_HOME=$(pulumi_home) "$cache/pulumi-v$v/bin/pulumi" plugin install language nodejs "v$v"
    install -m 0755 "$(pulumi_home)/plugins/language-nodejs-v$v/pulumi-language-nodejs" "$out"
    return
  fi
  log "pulumi-language-nodejs v$v: building from $archive"
  local src="$cache/src/pulumi-language-nodejs-v$v"
  rm -rf "$src"; mkdir -p "$src"; tar xzf "$archive" -C "$src" --strip-components=1
  (cd "$src/sdk/nodejs/cmd/pulumi-language-nodejs"
   go mod edit -replace "github.com/pulumi/pulumi/pkg/v3=github.com/pulumi/pulumi/pkg/v3@v$v" \
     -replace "github.com/pulumi/pulumi/sdk/v3=github.com/pulumi/pulumi/sdk/v3@v$v"
   go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  log "pulumi-language-nodejs v$v: done"
}

# pulumi-resource-kubernetes: the resource plugin @pulumi/kubernetes asks the engine for, at the SDK's own version.
# From the vendored source: regenerate what upstream does not store (schema.json from the Kubernetes OpenAPI specs,
# the Go SDK the provider imports), then build, as upstream's Makefile does. Modules the proxy refuses are swapped
# for served versions that compile the same code; see docs/adr/0006.
build_kubernetes-plugin() {
  local v; v=$(version @pulumi/kubernetes)
  local home; home=$(pulumi_home)
  if plugin_installed resource-kubernetes "$v"; then log "pulumi-resource-kubernetes v$v: cached"; return; fi
  local archive; archive=$(vendored "pulumi-kubernetes-v$v")
  mkdir -p "$home"
  if [ -z "$archive" ]; then
    log "pulumi-resource-kubernetes v$v: no vendored source; installing the released plugin"
    PULUMI_HOME=$home "$cache/pulumi-v$(version @pulumi/pulumi)/bin/pulumi" plugin install resource kubernetes "v$v"
    return
  fi
  log "pulumi-resource-kubernetes v$v: building from $archive (cold: about 8 min on 2 cores)"
  local src="$cache/src/pulumi-kubernetes-v$v" pv=3.245.0 kube=v1.36.1
  rm -rf "$src"; mkdir -p "$src"; tar xzf "$archive" -C "$src" --strip-components=1
  # The generator's .NET code path needs a module the proxy refuses; this stand-in satisfies the compiler and
  # fails if ever called (only the schema and Go SDK are generated here).
  mkdir -p "$src/dotnet-standin/codegen"
  printf 'module github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3\n\ngo 1.25\n\nrequire github.com/pulumi/pulumi/pkg/v3 v%s\n' "$pv" >"$src/dotnet-standin/go.mod"
  cat >"$src/dotnet-standin/codegen/codegen.go" <<'GO'
// Package codegen stands in for the .NET SDK generator, which pg-kopf never runs.
package codegen

import (
	"errors"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

type LanguageResource struct{ Name, Package, Token string }

var errAbsent = errors.New(".NET SDK generation is not part of this build")

func LanguageResources(string, *schema.Package) (map[string]LanguageResource, error) { return nil, errAbsent }

func GeneratePackage(string, *schema.Package, map[string][]byte, map[string]string) (map[string][]byte, error) {
	return nil, errAbsent
}
GO
  local p="$src/provider" gen="$src/bin/pulumi-gen-kubernetes" openapi="$src/openapi"
  (cd "$p"
   go mod edit -require "github.com/pulumi/pulumi/pkg/v3@v$pv" -require "github.com/pulumi/pulumi/sdk/v3@v$pv" \
     -require "github.com/fluxcd/pkg/ssa@v0.72.0" \
     -replace "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3=../dotnet-standin"
   (cd ../sdk && go mod edit -require "github.com/pulumi/pulumi/sdk/v3@v$pv")
   log "pulumi-resource-kubernetes v$v: generator"
   go build -trimpath -o "$gen" ./cmd/pulumi-gen-kubernetes)
  # The OpenAPI specs the schema is generated from, from the Kubernetes module at each version the generator merges.
  mkdir -p "$openapi"
  local n
  for n in 17 18 19 20 26 28 30 31; do
    log "pulumi-resource-kubernetes v$v: OpenAPI spec of Kubernetes v1.$n.0"
    cp "$(moddir "k8s.io/kubernetes@v1.$n.0")/api/openapi-spec/swagger.json" "$openapi/swagger-v1.$n.0.json"
  done
  cp "$(moddir "k8s.io/kubernetes@$kube")/api/openapi-spec/swagger.json" "$openapi/swagger-$kube.json"
  local mapping="$p/cmd/pulumi-resource-kubernetes/terraform-mapping.json"
  cp "$mapping" "$src/terraform-mapping.json"
  echo '{"resource_schemas":{}}' >"$p/cmd/pulumi-gen-kubernetes/terraform.json"
  log "pulumi-resource-kubernetes v$v: schema"
  chmod -R u+w "$openapi"
  "$gen" -version="$v" schema "$openapi/swagger-$kube.json" "$src" >/dev/null
  cp "$src/terraform-mapping.json" "$mapping"
  local blob; blob=$(git hash-object "$p/cmd/pulumi-resource-kubernetes/schema.json")
  case "$blob" in
    9c927da9*) ;;
    *) log "schema.json (git blob $blob) differs from upstream's v$v schema (9c927da9...)"; return 1 ;;
  esac
  log "pulumi-resource-kubernetes v$v: Go SDK"
  "$gen" -version="$v" go "$p/cmd/pulumi-resource-kubernetes/schema.json" "$src" >/dev/null
  log "pulumi-resource-kubernetes v$v: provider"
  mkdir -p "$src/bin"
  (cd "$p/cmd/pulumi-resource-kubernetes" && VERSION="$v" go generate ./main.go)
  (cd "$p" && go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$v" \
     -o "$src/bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes)
  PULUMI_HOME=$home "$cache/pulumi-v$(version @pulumi/pulumi)/bin/pulumi" plugin install resource kubernetes "v$v" \
    --file "$src/bin/pulumi-resource-kubernetes" >/dev/null
  rm -rf "$src/openapi" "$src/sdk/go"
  log "pulumi-resource-kubernetes v$v: done"
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

pause_dir() { echo "$cache/pause-$(cat "$root/tools/pause/go.mod" "$root/tools/pause/main.go" | sha256sum | cut -c1-12)"; }

# pause: the real node's sandbox process (tools/pause), a static program scripts/image.sh packs as the pause image
build_pause() {
  local out; out=$(pause_dir)
  if [ -x "$out/bin/pause" ]; then log "pause: cached"; return; fi
  log "pause: building"
  mkdir -p "$out.tmp/bin"
  (cd "$root/tools/pause" && go build -trimpath -ldflags "-s -w" -o "$out.tmp/bin/pause" .)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "pause: done"
}

# paths: the bin folders of the cached tools, one per line (for PATH); builds nothing
# pulumi-resource-postgresql: the bridged Terraform provider behind @pulumi/postgresql, built from the vendored source
# only for the Pulumi benchmark's anchor (npm run bench:pulumi), never by a plain install: nothing else needs it.
build_postgresql-plugin() {
  local v; v=$(version pulumi-postgresql)
  if plugin_installed resource-postgresql "$v"; then log "pulumi-resource-postgresql v$v: cached"; return; fi
  local archive; archive=$(vendored "pulumi-postgresql-v$v")
  if [ -z "$archive" ]; then
    log "pulumi-resource-postgresql v$v: no vendored source; installing the released plugin"
    PULUMI_HOME=$(pulumi_home) "$cache/pulumi-v$(version @pulumi/pulumi)/bin/pulumi" plugin install resource postgresql "v$v"
    return
  fi
  log "pulumi-resource-postgresql v$v: building from $archive (cold: about 5 min on 2 cores)"
  local src="$cache/src/pulumi-postgresql-v$v"
  rm -rf "$src"; mkdir -p "$src"; tar xzf "$archive" -C "$src" --strip-components=1
  (cd "$src/provider/cmd/pulumi-resource-postgresql" && VERSION=$v go generate)
  (cd "$src/provider" && go build -trimpath \
     -ldflags "-s -w -X github.com/pulumi/pulumi-postgresql/provider/v3/pkg/version.Version=$v" \
     -o "$src/bin/pulumi-resource-postgresql" ./cmd/pulumi-resource-postgresql)
  PULUMI_HOME=$(pulumi_home) "$cache/pulumi-v$(version @pulumi/pulumi)/bin/pulumi" plugin install resource postgresql "$v" \
    --file "$src/bin/pulumi-resource-postgresql"
  log "pulumi-resource-postgresql v$v: done"
}

paths() {
  echo "$cache/pulumi-v$(version @pulumi/pulumi)/bin"
  echo "$cache/etcd-v$(version etcd)/bin"
  echo "$cache/kubernetes-v$(version kubernetes)/bin"
  echo "$cache/kwok-v$(version kwok)/bin"
  echo "$cache/kubernetes-node-v$(version kubernetes)/bin"
  echo "$cache/coredns-v$(version coredns)/bin"
  echo "$cache/actionlint-v$(version actionlint)/bin"
  echo "$(dockerfile_lint_dir)/bin"
  echo "$(pause_dir)/bin"
}

main() {
  if [ "${1:-}" = paths ]; then paths; return; fi
  if [ "${1:-}" = pulumi-home ]; then pulumi_home; return; fi
  mkdir -p "$cache/src"
  local started=$SECONDS parts=("$@")
  [ ${#parts[@]} -gt 0 ] || parts=(pulumi language-nodejs kubernetes-plugin etcd kubernetes kubernetes-node coredns pause kwok actionlint dockerfile-lint)
  for p in "${parts[@]}"; do "build_$p"; done
  log "all done in $((SECONDS - started))s; cache $(du -sh "$cache" 2>/dev/null | cut -f1) at $cache"
}

main "$@"
