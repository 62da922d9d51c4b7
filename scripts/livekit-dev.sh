#!/usr/bin/env bash
# Runs a local livekit-server for the demo in the foreground on 127.0.0.1, with dev keys.
#   LIVEKIT_PORT  HTTP/WebSocket port (default 7880); RTC uses TCP port+1 and UDP port+2.
#   LIVEKIT_LOG_LEVEL  debug, info (default), warn, error.
#   LIVEKIT_WEBHOOK_URL  where LiveKit posts its webhooks, signed with devkey: lkgate's
#                      webhook route (join guard, call slots). Default: the example
#                      server's, http://$LKGATE_ADDR$LKGATE_PREFIX/livekit/webhook
#                      (http://127.0.0.1:8080/api/v1/livekit/webhook); "off" sends none.
# Stop it with Ctrl-C (or SIGTERM to this script).
# livekit-server v1.8.4 always listens for RTC over TCP on every address (port+1);
# everything else is bound to 127.0.0.1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-livekit.sh"

port="${LIVEKIT_PORT:-7880}"
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65533)); then
	echo "livekit-dev: LIVEKIT_PORT must be a port number below 65534, got '$port'" >&2
	exit 1
fi
tcp_port=$((port + 1))
udp_port=$((port + 2))

webhook_url="${LIVEKIT_WEBHOOK_URL:-http://${LKGATE_ADDR:-127.0.0.1:8080}${LKGATE_PREFIX:-/api/v1}/livekit/webhook}"
webhook_yaml=""
if [[ "$webhook_url" != "off" ]]; then
	if ! [[ "$webhook_url" =~ ^https?://[^[:space:]\"]+$ ]]; then
		echo "livekit-dev: LIVEKIT_WEBHOOK_URL must be an http(s) URL or off, got '$webhook_url'" >&2
		exit 1
	fi
	webhook_yaml="webhook:
  api_key: devkey
  urls: [\"$webhook_url\"]"
fi

cfg="$(mktemp --suffix=.yaml)"
trap 'rm -f "$cfg"' EXIT
cat >"$cfg" <<YAML
port: $port
bind_addresses: ["127.0.0.1"]
rtc:
  tcp_port: $tcp_port
  udp_port: $udp_port
  node_ip: 127.0.0.1
  use_external_ip: false
  # Bind the UDP mux to loopback only; without these it binds every non-loopback address.
  enable_loopback_candidate: true
  ips:
    includes: ["127.0.0.1/32"]
keys:
  devkey: secretsecretsecretsecretsecretsecret
logging:
  level: ${LIVEKIT_LOG_LEVEL:-info}
$webhook_yaml
YAML

echo "config: $cfg"
echo "livekit-server: http://127.0.0.1:$port (ws://127.0.0.1:$port), rtc tcp $tcp_port udp $udp_port"
echo "api key: devkey  secret: secretsecretsecretsecretsecretsecret"
echo "webhooks: $webhook_url"

# In the background plus wait, so this script can forward SIGTERM and still
# remove the config file when the server exits.
"$root/.bin/livekit-server" --config "$cfg" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
status=0
wait "$pid" || status=$?
# A trapped signal interrupts wait before the server has exited: wait again for its real status.
while kill -0 "$pid" 2>/dev/null; do
	status=0
	wait "$pid" || status=$?
done
exit "$status"
