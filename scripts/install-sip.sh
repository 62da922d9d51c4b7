#!/usr/bin/env bash
# Installs what the SIP tests need: the Debian packages redis-server,
# sip-tester (sipp) and the codec headers livekit-sip builds against, then
# livekit-sip v1.0.0 built from the Go module cache into
# <repo>/.bin/livekit-sip. Idempotent: installs only what is missing.
set -euo pipefail

readonly VERSION=v1.0.0
readonly MODULE=github.com/livekit/sip
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$root/.bin"
target="$bin_dir/livekit-sip"
# livekit-sip reports no useful version (0.0.1), so a stamp beside the
# binary records which one was built.
stamp="$target.version"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v pkg-config >/dev/null || missing+=(pkg-config)
for pkg in libopus-dev libopusfile-dev libsoxr-dev; do
	dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
	command -v apt-get >/dev/null || { echo "install-sip: need ${missing[*]}, and apt-get is not available" >&2; exit 1; }
	sudo=""
	[[ $(id -u) == 0 ]] || sudo=sudo
	echo "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
		# A fresh machine has no package lists yet.
		$sudo apt-get update
		$sudo apt-get install -y --no-install-recommends "${missing[@]}"
	fi
fi

if [[ -x "$target" && "$(cat "$stamp" 2>/dev/null)" == "$VERSION" ]]; then
	echo "livekit-sip $VERSION already installed at $target"
	exit 0
fi

command -v go >/dev/null || { echo "install-sip: go is not on PATH" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Outside the repo, so that its go.mod never gains the sip module (which
# would drag in other protocol versions). `go install pkg@version` does not
# work for this module (it asks the proxy for the version list), so the
# module is downloaded whole and built in the module cache.
cd "$tmp"
export GOFLAGS= GONOSUMDB="$MODULE"
echo "building livekit-sip $VERSION with $(go version) (about a minute when the build cache is cold)"
go mod download "$MODULE@$VERSION"
src="$(go env GOMODCACHE)/$MODULE@$VERSION"
CGO_ENABLED=1 go build -C "$src" -o "$tmp/livekit-sip" ./cmd/livekit-sip

mkdir -p "$bin_dir"
# Copy beside the target then rename, so a concurrent reader never sees a half-written file.
cp "$tmp/livekit-sip" "$target.tmp.$$"
mv -f "$target.tmp.$$" "$target"
echo "$VERSION" >"$stamp"
echo "installed livekit-sip $VERSION at $target"
