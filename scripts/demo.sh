#!/usr/bin/env bash
# `make demo`: installs and starts a real local livekit-server, then the
# example server mounting lkgate's HTTP API and serving the demo page, and
# prints the page's URL, its users and curl lines. Ctrl-C stops both (each by
# its own pid).
#   LIVEKIT_PORT       livekit-server port (default 7880)
#   LKGATE_ADDR        example server address (default 127.0.0.1:8080)
#   LKGATE_DEMO_USERS  the page's users (default: a host and a member of acme
#                      and a host of globex, with fresh random passwords)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/install-livekit.sh"
"$root/scripts/install-browser.sh" --npm-only

export LIVEKIT_PORT="${LIVEKIT_PORT:-7880}"
export LKGATE_ADDR="${LKGATE_ADDR:-127.0.0.1:8080}"
logdir="$(mktemp -d)"
lk_pid="" srv_pid=""
cleanup() {
	for pid in $srv_pid $lk_pid; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$logdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # url name log
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "demo: $2 did not come up; its log:" >&2
	tail -n 40 "$3" >&2
	exit 1
}

# LiveKit posts its webhooks to lkgate: the join guard and call slots
# depend on them, and the example server's /healthz reports when none
# arrive (LKGATE_WEBHOOK_MAX_SILENCE).
export LIVEKIT_WEBHOOK_URL="http://$LKGATE_ADDR/api/v1/livekit/webhook"
"$root/scripts/livekit-dev.sh" >"$logdir/livekit.log" 2>&1 &
lk_pid=$!
wait_for "http://127.0.0.1:$LIVEKIT_PORT/" livekit-server "$logdir/livekit.log"

echo "building the example server"
go build -o "$logdir/server" ./examples/server
export LIVEKIT_URL="http://127.0.0.1:$LIVEKIT_PORT"
export LIVEKIT_API_KEY=devkey
export LIVEKIT_API_SECRET=secretsecretsecretsecretsecretsecret
# Backend keys for the curl lines below: they never go to the browser.
export LKGATE_API_KEYS="demo-key-acme-0001=acme:backend:all,demo-key-globex-0001=globex:backend:all"
# The page's users sign in with a password; their session carries their
# permissions (a member may only join; a host may also moderate and admit).
password() { head -c 12 /dev/urandom | base64 | tr -d '+/='; }
export LKGATE_DEMO_USERS="${LKGATE_DEMO_USERS:-hana:$(password)=acme:tokens+rooms+moderate+guests,mia:$(password)=acme:tokens,gina:$(password)=globex:tokens+rooms+moderate+guests}"
# A fresh invite key per run; invite links open this server's guest page.
export LKGATE_INVITE_KEYS="demo=$(head -c 32 /dev/urandom | base64)"
export LKGATE_INVITE_BASE_URL="http://$LKGATE_ADDR"
export LKGATE_DEMO_LIVEKIT_CLIENT="$root/web/node_modules/livekit-client/dist/livekit-client.esm.mjs"
"$logdir/server" > >(tee "$logdir/server.log") 2>&1 &
srv_pid=$!
wait_for "http://$LKGATE_ADDR/healthz" "example server" "$logdir/server.log"

cat <<MSG

lkgate demo is running:
  demo page       http://$LKGATE_ADDR/  sign in as one of these users (user:password=tenant:permissions):
$(tr ',' '\n' <<<"$LKGATE_DEMO_USERS" | sed 's/^/                    /')
                  A host's "Create guest invite" gives a link to open in another browser
                  window, then admit the guest; a member may only join (its session
                  gets 403 permission_denied elsewhere). The browser holds no API key.
  livekit-server  http://127.0.0.1:$LIVEKIT_PORT  (key devkey; webhooks to $LIVEKIT_WEBHOOK_URL,
                  http://$LKGATE_ADDR/healthz answers 503 if rooms exist and none arrive)
  lkgate API      http://$LKGATE_ADDR/api/v1  (OpenAPI: /api/v1/openapi.yaml; backend API keys, every
                  permission: demo-key-acme-0001 for tenant acme, demo-key-globex-0001 for globex)

Get a token for tenant acme:
  curl -sS -X POST http://$LKGATE_ADDR/api/v1/livekit/token -H 'Authorization: Bearer demo-key-acme-0001' -H 'Content-Type: application/json' -d '{"room_name":"standup","participant_identity":"alice","participant_name":"Alice"}'

Tenant globex gets its own room of the same name (room names are scoped per tenant):
  curl -sS -X POST http://$LKGATE_ADDR/api/v1/livekit/token -H 'Authorization: Bearer demo-key-globex-0001' -H 'Content-Type: application/json' -d '{"room_name":"standup","participant_identity":"gina"}'

Ctrl-C stops everything.
MSG
wait "$srv_pid"
