#!/usr/bin/env bash
# `./dev pulumi ARGS...`: the Pulumi CLI on PATH (else the toolchain's, when `./dev toolchain` has
# built it: never built from here, a build takes minutes), run for this project with
#   - a local file backend in .pulumi-state/ (PULUMI_BACKEND_URL, when set, wins);
#   - no plugin downloads (a missing plugin is an error naming it) and no update check;
#   - passphrase secrets as the CLI reads them (PULUMI_CONFIG_PASSPHRASE or _FILE; the
#     tutorial stack's is `openstack`).
# The CLI must be at least the version of the `pulumi` SDK the program pins (requirements.txt),
# with the Python language host and the providers the SDKs request installed (`pulumi plugin ls`).
# Without the language host, `./dev preview|up|...` runs the program through the Automation API
# instead (README: "Running it: the real Pulumi engine").
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v pulumi >/dev/null 2>&1; then
  if toolchain=$("$project/tools/toolchain.sh" --cached 2>/dev/null); then
    PATH="$toolchain:$PATH"
  else
    echo "error: no pulumi CLI on PATH, and the project's toolchain is not built yet: ./dev toolchain builds" \
         "it (once, about 5 min), then ./dev pulumi uses it; or ./dev preview|up STACK (builds it too)," \
         "or ./dev plan STACK offline, with no CLI (README: \"Running it: the real Pulumi engine\")" >&2
    exit 127
  fi
fi
want=$(sed -n 's/^pulumi==//p' "$project/requirements.txt")
have=$(pulumi version 2>/dev/null | sed 's/^v//')
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]; then
  echo "error: pulumi ${have:-(unknown version)} on PATH is older than the SDK the program pins ($want);" \
       "upgrade the CLI to $want or later" >&2
  exit 2
fi
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$project/.pulumi-state}"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_UPDATE_CHECK=true
mkdir -p "$project/.pulumi-state"
chmod 0700 "$project/.pulumi-state"
cd "$project"
exec pulumi "$@"
