#!/usr/bin/env bash
# Installs the pinned livekit-server into <repo>/.bin/livekit-server.
# Idempotent: does nothing when the binary there already reports the pinned version.
# Needs only Go and the Go module proxy (the server is built from source).
set -euo pipefail

readonly VERSION=v1.8.4
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$root/.bin"
target="$bin_dir/livekit-server"

if [[ -x "$target" ]] && "$target" --version 2>/dev/null | grep -qx "livekit-server version ${VERSION#v}"; then
	echo "livekit-server $VERSION already installed at $target"
	exit 0
fi

command -v go >/dev/null || { echo "install-livekit: go is not on PATH" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "building livekit-server $VERSION with $(go version) (about a minute when the build cache is cold)"
# Run outside the repo so its go.mod and any GOFLAGS=-mod=... cannot interfere:
# `go install pkg@version` builds the server with its own pinned dependencies.
(cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS= go install "github.com/livekit/livekit-server/cmd/server@$VERSION")

got="$("$tmp/bin/server" --version)"
if [[ "$got" != "livekit-server version ${VERSION#v}" ]]; then
	echo "install-livekit: built binary reports '$got', want ${VERSION#v}" >&2
	exit 1
fi

mkdir -p "$bin_dir"
# Copy beside the target then rename, so a concurrent reader never sees a half-written file.
cp "$tmp/bin/server" "$target.tmp.$$"
mv -f "$target.tmp.$$" "$target"
echo "installed $got at $target"
