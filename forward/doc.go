// Package forward sends each tenant's LiveKit webhook events to that
// tenant's own URL, signed with the tenant's own secret.
//
// A host mounts lkgate's webhook route (httpx) and passes
// [Forwarder.Forward] as httpx.Config.OnWebhook; [Config].Endpoint tells
// where each tenant's events go and the secret they are signed with:
//
//	fw, err := forward.New(forward.Config{Endpoint: func(tenant string) (string, []byte, bool) {
//		return lookUpTenantHook(tenant) // URL, secret, ok
//	}})
//	h, err := httpx.New(m, httpx.Config{Authenticator: auth, OnWebhook: fw.Forward})
//	defer fw.Close(ctx)
//
// # What a tenant receives
//
// One POST per event, the body being the event as LiveKit's webhook sends
// it (protojson of livekit.WebhookEvent, Content-Type application/json),
// so LiveKit's own types decode it, rewritten for the tenant ([ForTenant]):
// the room is named as the tenant knows it wherever the event names it,
// the room's metadata carries no owner key ("auth_id") and no "lkgate."
// key, the room no TURN password (LiveKit v1.8.4 still sends one), and the
// participant no "lkgate." attribute. Only events whose room
// resolves to a tenant are sent, to that tenant only; guests' lobbies are
// lkgate's own rooms and are not forwarded. Headers:
//
//	Lkgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//	Lkgate-Event-Id:  LiveKit's event id, the same on every attempt (dedupe on it)
//
// A receiver checks the signature with [Verify] (a tolerance window against replays,
// a constant-time comparison).
//
// # Delivery guarantee
//
// At least once while the process runs and the queue has room: an event
// is sent until its receiver answers 2xx or its [Config].Attempts run out
// (by default 8 attempts, the delays between them doubling from 1 s to at
// most 1 min, each drawn between half and all of its value: given up 61
// to 123 s after the first attempt). 408, 429, 5xx, timeouts and network
// errors are retried; any other status (3xx, 4xx) is final, and
// Retry-After is not read. An event is lost when it finds the queue full
// (the whole queue or its tenant's share), when its attempts run out, and
// when the process exits or [Forwarder.Close] gives up with events still
// held: the queue is in memory only, and LiveKit has been answered long
// before. Order is not guaranteed: up to [Config].TenantWorkers of a
// tenant's events are in flight at once, and a retried event arrives after
// later ones. Receivers dedupe on Lkgate-Event-Id and order by the event's
// createdAt. [Forwarder.Stats] counts every outcome; failures and drops
// are logged once per kind and 10 s, without URLs, secrets or bodies.
//
// Forward never waits for a delivery, so LiveKit's webhook is answered at
// once however slow the receivers are. Tenants are served in turn, each
// holding at most [Config].TenantWorkers workers and
// [Config].TenantQueueSize events, so a receiver that is slow or down
// delays and fills only its own tenant's share.
package forward
