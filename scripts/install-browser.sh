#!/usr/bin/env bash
# Installs what the demo page and the browser test need: Debian's chromium
# (when /usr/bin/chromium is missing) and, with npm ci in web/, the pinned
# livekit-client and playwright-core from web/package-lock.json. Playwright
# drives the Debian browser; it never downloads one of its own.
# Idempotent: installs only what is missing or out of date.
#   --npm-only  skip chromium (the demo page needs only the npm packages)
set -euo pipefail
npm_only=false
[[ "${1:-}" == --npm-only ]] && npm_only=true

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

command -v node >/dev/null || { echo "install-browser: node (Node.js 20+) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-browser: npm is required" >&2; exit 1; }

if ! $npm_only && [[ ! -x /usr/bin/chromium ]]; then
	command -v apt-get >/dev/null || { echo "install-browser: need chromium, and apt-get is not available" >&2; exit 1; }
	sudo=""
	[[ $(id -u) == 0 ]] || sudo=sudo
	echo "installing chromium"
	export DEBIAN_FRONTEND=noninteractive
	if ! $sudo apt-get install -y --no-install-recommends chromium; then
		# A fresh machine has no package lists yet.
		$sudo apt-get update
		$sudo apt-get install -y --no-install-recommends chromium
	fi
fi

# npm ci wipes and reinstalls node_modules: run it only when the lockfile
# changed since the last install (npm records it in node_modules).
web="$root/web"
if [[ ! -f "$web/node_modules/.package-lock.json" || "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]]; then
	echo "installing web/ dependencies (npm ci)"
	(cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
else
	echo "web/ dependencies up to date"
fi
