#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing (the tests start their own
# instances on free loopback ports; nothing is enabled as a service).
set -euo pipefail
if command -v redis-server >/dev/null; then
	echo "redis-server already installed: $(redis-server --version | cut -d' ' -f3)"
	exit 0
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "installing redis-server with apt-get"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server
# The package starts a system instance on 6379; tests never use it.
$sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
