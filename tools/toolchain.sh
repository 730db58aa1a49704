#!/usr/bin/env bash
# `./dev toolchain`: the Pulumi engine this project runs its program with, built from the Go module
# proxy (the only place this kind of machine can get it) and cached on the machine:
#   - the CLI, `github.com/pulumi/pulumi/pkg/v3/cmd/pulumi`, built in a wrapper module (pkg/v3's
#     go.mod has `replace` directives, so `go install mod@ver` refuses it);
#   - from the `sdk/v3` module zip, `pulumi-resource-pulumi-python`, the dynamic-provider host that
#     runs our MySQL provider.
# No Python language host is needed: `./dev preview|up|...` runs the program through the Python
# SDK's Automation API, which serves the language runtime in-process (the CLI's `--client`).
#
# A `pulumi` on PATH at least as new as PULUMI_VERSION is used instead of building, when
# NOVA_PULUMI_FROM_PATH=1. Prints the directory (…/bin) that holds `pulumi` and the dynamic-provider host.
# Says each phase of a build and its time on stderr, nothing when the toolchain is cached; nothing
# but errors with --quiet or NOVA_QUIET=1. --cached: print the directory only when it is already
# built, else exit 1 saying where it would be, never building (tools/pulumi.sh asks so).
# Cache: $NOVA_TOOLCHAIN_DIR (default /var/cache/openstack-nova/toolchain), one directory per
# version and recipe; a partial build never lands there (built in a temporary directory, renamed).
set -euo pipefail

PULUMI_VERSION=${PULUMI_VERSION:-3.276.0}
# pkg/v3's own go.mod replaces clipboard with this fork; a wrapper module must say the same.
CLIPBOARD_REPLACE='github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e'
BUILD_TAGS='osusergo,grpcnotrace'

cache_root=${NOVA_TOOLCHAIN_DIR:-/var/cache/openstack-nova/toolchain}
quiet=${NOVA_QUIET:-0}
cached_only=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --cached) cached_only=1 ;;
    -h|--help) echo "usage: ./dev toolchain [--quiet] [--cached]   (what they do: this file's header)"; exit 0 ;;
    *) echo "toolchain: unknown argument '$arg' (usage: ./dev toolchain [--quiet] [--cached])" >&2; exit 2 ;;
  esac
done
say() { [ "$quiet" = 1 ] || echo "toolchain: $*" >&2; }
# quietly COMMAND...: go's own progress (`go: downloading …`) on stderr; under --quiet kept back,
# and shown only when the command fails, so a failure still says why
quietly() {
  if [ "$quiet" != 1 ]; then "$@" >&2; return; fi
  local log status=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || status=$?
  [ "$status" = 0 ] || cat "$log" >&2
  rm -f "$log"
  return "$status"
}

# The recipe is part of the cache key: a change to how the CLI is built rebuilds it.
recipe=$(printf '%s\n' "$PULUMI_VERSION" "$CLIPBOARD_REPLACE" "$BUILD_TAGS" "$(go env GOVERSION 2>/dev/null || echo no-go)" \
  | sha256sum | cut -c1-12)
dest="$cache_root/pulumi-v$PULUMI_VERSION-$recipe"

built() {  # built DIR: DIR holds a whole toolchain of PULUMI_VERSION
  [ -x "$1/bin/pulumi" ] && [ -x "$1/bin/pulumi-resource-pulumi-python" ] \
    && [ "$("$1/bin/pulumi" version 2>/dev/null)" = "v$PULUMI_VERSION" ]
}
if built "$dest"; then
  echo "$dest/bin"
  exit 0
fi
# Without Go nothing can be built, and the recipe cannot name its Go; and --cached asks for a CLI
# to run now, not for the latest recipe: then a toolchain of this version built earlier (by
# whichever Go) serves. That is how `./dev pulumi` finds one, with or without go on PATH.
if [ "$cached_only" = 1 ] || ! command -v go >/dev/null 2>&1; then
  for other in "$cache_root/pulumi-v$PULUMI_VERSION-"*; do
    if built "$other"; then echo "$other/bin"; exit 0; fi
  done
fi
if [ "$cached_only" = 1 ]; then
  echo "toolchain: not built yet (it would be in $dest/bin; ./dev toolchain builds it)" >&2
  exit 1
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: building the Pulumi CLI needs Go (go 1.24 or later on PATH); or put a pulumi" \
       "$PULUMI_VERSION CLI on PATH and set NOVA_PULUMI_FROM_PATH=1" >&2
  exit 127
fi

mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS
say "building the Pulumi CLI v$PULUMI_VERSION from the Go module proxy (once; measured 31 s of modules and 304 s of build on 2 cores)"
(
  cd "$work"
  mkdir wrapper
  cd wrapper
  go mod init openstack-nova/toolchain >/dev/null 2>&1
  cat > tools.go <<'EOF'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
EOF
  go mod edit -replace "$CLIPBOARD_REPLACE"
  phase=$SECONDS
  say "fetching the modules ..."
  quietly go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  go mod tidy -e >/dev/null 2>&1 || true
  quietly go mod download github.com/pulumi/pulumi/pkg/v3
  say "modules fetched in $((SECONDS - phase)) s; building the CLI (the long part) ..."
  phase=$SECONDS
  mkdir -p "$work/out/bin"
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false quietly go build -trimpath -tags "$BUILD_TAGS" \
    -ldflags "-w -s -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$work/out/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  say "CLI built in $((SECONDS - phase)) s"
  sdk_dir=$(go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi/sdk/v3")
  install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$work/out/bin/"
)
got=$("$work/out/bin/pulumi" version)
if [ "$got" != "v$PULUMI_VERSION" ]; then
  echo "error: the built CLI says $got, expected v$PULUMI_VERSION" >&2
  exit 1
fi
rm -rf "$dest"
mv "$work/out" "$dest"
say "Pulumi CLI v$PULUMI_VERSION ready in $((SECONDS - started)) s: $dest"
echo "$dest/bin"
