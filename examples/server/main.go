// Command server is an example host: it mounts lkgate's HTTP API under a
// prefix on its own mux, configured from environment variables.
//
//	LIVEKIT_URL          LiveKit API URL, e.g. http://127.0.0.1:7880 (required)
//	LIVEKIT_PUBLIC_URL   URL handed to clients (default: LIVEKIT_URL as ws/wss)
//	LIVEKIT_API_KEY      LiveKit API key (required)
//	LIVEKIT_API_SECRET   LiveKit API secret, at least 32 bytes (required)
//	LKGATE_API_KEYS      comma-separated key=tenant:subject:permissions entries
//	                     (required, unless LKGATE_UNAUTHENTICATED=1). Each entry
//	                     is split at its last "=", so a key may hold any bytes
//	                     but whitespace and commas ("=" of base64 included);
//	                     tenant and subject hold no ":" or "=" (subject may be empty:
//	                     key=acme::tokens); permissions are names joined by +
//	                     (tokens, rooms, moderate, guests, sip) or all, such as
//	                     acme-backend-key=acme:backend:all or
//	                     kiosk-key=acme:kiosk:tokens (see httpx.Permission)
//	LKGATE_ALLOW_QUERY_KEY  1: also accept API keys as ?api_key= (default: only
//	                     the Authorization header; query strings end up in
//	                     proxy logs and browser history)
//	LKGATE_UNAUTHENTICATED  1: no API keys, no tenants, every room open to every
//	                     caller (for local experiments only; refused with API
//	                     keys). Only requests whose Host is this server's
//	                     loopback address (LKGATE_ADDR, or localhost on its
//	                     port) are served, others get 421: a web page cannot
//	                     reach it through DNS rebinding
//	LKGATE_ADDR          listen address (default 127.0.0.1:8080)
//	LKGATE_PREFIX        where the API is mounted (default /api/v1). / serves
//	                     the published paths instead: /livekit/..., /sip/...
//	                     and /openapi.yaml at the root, and the guest routes
//	                     also at /api/v1/livekit/guest/..., where the published
//	                     guest API has them; the demo page keeps /, /join and
//	                     /demo/, and /healthz stays
//	LKGATE_INVITE_KEYS   guest invite keys, comma-separated id=<base64 of 32 random
//	                     bytes>, newest first (optional: without it guests are off)
//	LKGATE_INVITE_BASE_URL  the guest page; invites are <it>/join?invite_token=...
//	LKGATE_SIP_TRUNKS    comma-separated tenant=trunk-id entries: each tenant's
//	                     LiveKit outbound trunk (default: no SIP routes, 404)
//	LKGATE_SIP_DESTINATIONS  what each tenant may dial or transfer to, as
//	                     E.164 prefixes: tenant=+49,+44;tenant2=+1800 ("+"
//	                     alone: any number). Deny by default: without it no
//	                     call is dialed (403), and a tenant missing from it
//	                     dials nothing. Well-known premium-rate prefixes
//	                     (+1900, +1976, +449, +49900, +3389, ...; the list in
//	                     sippolicy.go is an example, not a complete one) are
//	                     refused even when a prefix here covers them
//	LKGATE_SIP_CALLER_IDS  the caller numbers each tenant may present as
//	                     from_phone_number, tenant=+4930111,+4930222;tenant2=...
//	                     Without it (or for a tenant it leaves out) a call
//	                     presents its trunk's number, and any from_phone_number
//	                     is refused (403)
//	LKGATE_AGENTS        the agents each tenant may dispatch through
//	                     room_config.agents, comma-separated
//	                     tenant=agent+agent, such as acme=helper+notetaker
//	                     (default: none; any named agent is refused, 403)
//	LKGATE_LIMITS        every tenant's limits, comma-separated limit=value:
//	                     max_rooms=50,token_rate=20/s:40,sip_call_rate=10/m,
//	                     max_concurrent_sip_calls=5,invite_rate=30/m,
//	                     guest_wait_rate=60/m:20,
//	                     max_waiting_guests_per_room=10,
//	                     max_waiting_guests=50,max_bans=1000 (a rate is
//	                     events/s or events/m, with an optional :burst; the
//	                     guest limits and max_bans also take "unlimited";
//	                     default: no limits but the defaults of the guest
//	                     limits and max_bans, lkgate.Limits)
//	LKGATE_ROOM_NAMES    scoped (default): each tenant has its own room names,
//	                     so two tenants may both have "standup"; shared: names
//	                     are global, and a name stays with the first tenant to
//	                     use it while its tokens live (a lease). shared with
//	                     several tenants needs LKGATE_REDIS_ADDR, where leases
//	                     survive restarts
//	LKGATE_REDIS_ADDR    host:port of a Redis shared by replicas: the locks, the
//	                     limits, the bans, the ids of handled webhooks, the room
//	                     index and (shared names) the leases go there (default:
//	                     in-process)
//	LKGATE_ROOM_INDEX    on: keep a per-tenant room index (lkgate.Config.RoomIndex,
//	                     in LKGATE_REDIS_ADDR's Redis or in process), so that
//	                     room lists and quota counts ask LiveKit for the tenant's
//	                     rooms by name; for a LiveKit that keeps its rooms in
//	                     Redis (default: off; see docs/scaling.md)
//	LKGATE_WEBHOOK_MAX_SILENCE  how long a LiveKit room that appeared may go
//	                     unnamed by any webhook before /healthz answers 503
//	                     with the reason, and a warning is logged: LiveKit's
//	                     webhooks are not reaching <prefix>/livekit/webhook
//	                     (default 2m; 0 turns the check off; see health.go)
//	LKGATE_DEMO_LIVEKIT_CLIENT  path of livekit-client's ESM build
//	                     (web/node_modules/livekit-client/dist/livekit-client.esm.mjs
//	                     after npm ci in web/); when set, the demo page is served
//	                     at / (members) and /join (guests). Default: API only.
//	LKGATE_DEMO_USERS    the demo page's users (required with the page):
//	                     comma-separated user:password=tenant:permissions, split
//	                     at the first ":" and the last "=", such as
//	                     hana:s3cret=acme:tokens+rooms+moderate+guests (a host)
//	                     and mia:pa55=acme:tokens (a member, who may only join)
//
// The demo page signs people in as LKGATE_DEMO_USERS: the server keeps the
// session and sets an HttpOnly, SameSite=Strict cookie, and the API behind
// the page authenticates by that cookie with the user's permissions, so
// the browser never holds an API key (session.go). The page fetches its
// token through livekit-client's TokenSource.endpoint from the token route
// and joins with camera and microphone; a host also lists the participants
// through the room route, mutes and removes them, invites guests and admits
// them from the waiting list, while a member's attempts get 403
// (permission_denied). /join is the guest page: set LKGATE_INVITE_BASE_URL
// to this server's address so invite links open it. Against cross-site
// requests: the SameSite=Strict cookie, JSON-only bodies (415 otherwise; a
// cross-origin JSON request needs a CORS preflight, never granted) and
// http.CrossOriginProtection.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/redislimit"
	"github.com/lkgate/lkgate/redislock"
)

type config struct {
	manager lkgate.Config
	// guests configures the guests; nil (no LKGATE_INVITE_KEYS) means none.
	guests *lkgate.GuestConfig
	// sip configures the SIP calls; nil (no LKGATE_SIP_TRUNKS) means none.
	sip    *lkgate.SIPConfig
	keys   map[string]httpx.Principal
	addr   string
	prefix string
	// livekitClient is the path of livekit-client's ESM build; empty means
	// no demo page.
	livekitClient string
	// redisAddr is the Redis shared by replicas; empty means in-process.
	redisAddr string
	// roomIndex keeps a room index (LKGATE_ROOM_INDEX=on).
	roomIndex bool
	// webhookMaxSilence bounds how long a new room may go without a
	// webhook before /healthz reports degraded; 0 means no check.
	webhookMaxSilence time.Duration
	// allowQueryKey accepts API keys as ?api_key= too.
	allowQueryKey bool
	// demoUsers sign in to the demo page (LKGATE_DEMO_USERS).
	demoUsers map[string]demoUser
}

// parseAPIKeys reads "key=tenant:subject:permissions,..." as documented on
// LKGATE_API_KEYS. Each entry is split at its last "=", because base64
// keys end in "=". Errors name the entry by number, never the key.
func parseAPIKeys(raw string) (map[string]httpx.Principal, error) {
	keys := map[string]httpx.Principal{}
	for i, entry := range strings.Split(raw, ",") {
		entry = strings.TrimSpace(entry)
		eq := strings.LastIndexByte(entry, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("entry %d is not key=tenant:subject:permissions", i+1)
		}
		key, parts := entry[:eq], strings.Split(entry[eq+1:], ":")
		if len(parts) != 3 || parts[0] == "" {
			return nil, fmt.Errorf("entry %d is not key=tenant:subject:permissions (the subject may be empty, as in key=acme::tokens; all is every permission)", i+1)
		}
		perms, err := httpx.ParsePermissions(parts[2])
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if _, dup := keys[key]; dup {
			return nil, fmt.Errorf("entry %d repeats a key", i+1)
		}
		keys[key] = httpx.Principal{Tenant: parts[0], Subject: parts[1], Permissions: perms}
	}
	return keys, nil
}

// parseLimits reads "limit=value,..." as documented on LKGATE_LIMITS.
func parseLimits(raw string) (lkgate.Limits, error) {
	var l lkgate.Limits
	for i, entry := range strings.Split(raw, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok {
			return l, fmt.Errorf("entry %d is not limit=value", i+1)
		}
		var err error
		switch name {
		case lkgate.LimitMaxRooms:
			l.MaxRooms, err = strconv.Atoi(value)
		case lkgate.LimitMaxConcurrentSIPCalls:
			l.MaxConcurrentSIPCalls, err = strconv.Atoi(value)
		case lkgate.LimitTokenRate:
			l.TokenRate, err = parseRate(value)
		case lkgate.LimitSIPCallRate:
			l.SIPCallRate, err = parseRate(value)
		case lkgate.LimitInviteRate:
			l.InviteRate, err = parseRate(value)
		case lkgate.LimitGuestWaitRate:
			l.GuestWaitRate, err = parseRate(value)
			if value == "unlimited" {
				l.GuestWaitRate, err = lkgate.Rate{Events: lkgate.NoLimit}, nil
			}
		case lkgate.LimitMaxWaitingGuestsPerRoom:
			l.MaxWaitingGuestsPerRoom, err = parseGuestCap(value)
		case lkgate.LimitMaxWaitingGuests:
			l.MaxWaitingGuests, err = parseGuestCap(value)
		case lkgate.LimitMaxBans:
			l.MaxBans, err = parseGuestCap(value)
		default:
			return l, fmt.Errorf("entry %d: unknown limit %q", i+1, name)
		}
		if err != nil || l.MaxRooms < 0 || l.MaxConcurrentSIPCalls < 0 {
			return l, fmt.Errorf("%s: %q is not a valid value", name, value)
		}
	}
	return l, nil
}

// parseAgents reads "tenant=agent+agent,..." as documented on
// LKGATE_AGENTS.
func parseAgents(raw string) (map[string][]string, error) {
	agents := map[string][]string{}
	for i, entry := range strings.Split(raw, ",") {
		tenant, names, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || tenant == "" || names == "" || agents[tenant] != nil {
			return nil, fmt.Errorf("entry %d is not tenant=agent+agent (each tenant once)", i+1)
		}
		for _, name := range strings.Split(names, "+") {
			if name == "" {
				return nil, fmt.Errorf("entry %d has an empty agent name", i+1)
			}
			agents[tenant] = append(agents[tenant], name)
		}
	}
	return agents, nil
}

// parseGuestCap reads a cap whose zero means its default (the guest caps,
// max_bans): a positive number, or "unlimited".
func parseGuestCap(s string) (int, error) {
	if s == "unlimited" {
		return lkgate.NoLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, errors.New("bad cap")
	}
	return n, nil
}

// parseRate reads "events/s" or "events/m", with an optional ":burst".
func parseRate(s string) (lkgate.Rate, error) {
	rate, burst, hasBurst := strings.Cut(s, ":")
	events, unit, ok := strings.Cut(rate, "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute}[unit]
	n, err := strconv.Atoi(events)
	if !ok || per == 0 || err != nil || n <= 0 {
		return lkgate.Rate{}, errors.New("bad rate")
	}
	r := lkgate.Rate{Events: n, Per: per}
	if hasBurst {
		if r.Burst, err = strconv.Atoi(burst); err != nil || r.Burst <= 0 {
			return lkgate.Rate{}, errors.New("bad burst")
		}
	}
	return r, nil
}

// configFromEnv reads the configuration; every error names the variable.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		manager: lkgate.Config{
			URL:       getenv("LIVEKIT_URL"),
			PublicURL: getenv("LIVEKIT_PUBLIC_URL"),
			APIKey:    getenv("LIVEKIT_API_KEY"),
			APISecret: getenv("LIVEKIT_API_SECRET"),
		},
		keys:          map[string]httpx.Principal{},
		addr:          getenv("LKGATE_ADDR"),
		prefix:        getenv("LKGATE_PREFIX"),
		livekitClient: getenv("LKGATE_DEMO_LIVEKIT_CLIENT"),
	}
	for _, name := range []string{"LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"} {
		if getenv(name) == "" {
			return c, fmt.Errorf("%s is not set", name)
		}
	}
	switch open, keys := getenv("LKGATE_UNAUTHENTICATED"), getenv("LKGATE_API_KEYS"); {
	case open != "" && open != "1":
		return c, fmt.Errorf("LKGATE_UNAUTHENTICATED must be 1 or unset, got %q", open)
	case open == "1" && keys != "":
		return c, fmt.Errorf("LKGATE_UNAUTHENTICATED=1 and LKGATE_API_KEYS are both set: choose one")
	case open == "1":
		c.manager.AllowUnauthenticated = true
	case keys == "":
		return c, fmt.Errorf("LKGATE_API_KEYS is not set (set LKGATE_UNAUTHENTICATED=1 to run without API keys)")
	}
	if !c.manager.AllowUnauthenticated {
		var err error
		if c.keys, err = parseAPIKeys(getenv("LKGATE_API_KEYS")); err != nil {
			return c, fmt.Errorf("LKGATE_API_KEYS: %w", err)
		}
	}
	switch v := getenv("LKGATE_ALLOW_QUERY_KEY"); v {
	case "", "1":
		c.allowQueryKey = v == "1"
	default:
		return c, fmt.Errorf("LKGATE_ALLOW_QUERY_KEY must be 1 or unset, got %q", v)
	}
	switch users := getenv("LKGATE_DEMO_USERS"); {
	case users != "" && c.manager.AllowUnauthenticated:
		return c, errors.New("LKGATE_DEMO_USERS and LKGATE_UNAUTHENTICATED=1 are both set: the demo page's users need tenants")
	case users != "":
		var err error
		if c.demoUsers, err = parseDemoUsers(users); err != nil {
			return c, fmt.Errorf("LKGATE_DEMO_USERS: %w", err)
		}
	}
	if keys := getenv("LKGATE_INVITE_KEYS"); keys != "" {
		c.guests = &lkgate.GuestConfig{InviteBaseURL: getenv("LKGATE_INVITE_BASE_URL")}
		for i, entry := range strings.Split(keys, ",") {
			id, b64, _ := strings.Cut(strings.TrimSpace(entry), "=")
			key, err := base64.StdEncoding.DecodeString(b64)
			if id == "" || err != nil {
				return c, fmt.Errorf("LKGATE_INVITE_KEYS: entry %d is not id=<base64 key>", i+1)
			}
			c.guests.Keys = append(c.guests.Keys, lkgate.InviteKey{ID: id, Key: key})
		}
	} else if getenv("LKGATE_INVITE_BASE_URL") != "" {
		return c, errors.New("LKGATE_INVITE_BASE_URL is set without LKGATE_INVITE_KEYS, which turn guests on")
	}
	if raw := getenv("LKGATE_SIP_TRUNKS"); raw != "" {
		trunks := map[string]string{}
		for i, entry := range strings.Split(raw, ",") {
			tenant, trunk, ok := strings.Cut(strings.TrimSpace(entry), "=")
			if !ok || tenant == "" || trunk == "" {
				return c, fmt.Errorf("LKGATE_SIP_TRUNKS: entry %d is not tenant=trunk-id", i+1)
			}
			trunks[tenant] = trunk
		}
		c.sip = &lkgate.SIPConfig{Trunks: lkgate.TenantTrunks(trunks)}
	}
	if err := sipPolicyFromEnv(getenv, c.sip); err != nil {
		return c, err
	}
	if raw := getenv("LKGATE_LIMITS"); raw != "" {
		l, err := parseLimits(raw)
		if err != nil {
			return c, fmt.Errorf("LKGATE_LIMITS: %w", err)
		}
		c.manager.Limits.Default = l
	}
	if raw := getenv("LKGATE_AGENTS"); raw != "" {
		agents, err := parseAgents(raw)
		if err != nil {
			return c, fmt.Errorf("LKGATE_AGENTS: %w", err)
		}
		c.manager.AllowAgent = lkgate.AllowAgents(agents)
	}
	c.redisAddr = getenv("LKGATE_REDIS_ADDR")
	switch v := getenv("LKGATE_ROOM_INDEX"); v {
	case "", "off":
	case "on":
		c.roomIndex = true
	default:
		return c, fmt.Errorf("LKGATE_ROOM_INDEX must be on or off, got %q", v)
	}
	maxSilence, err := parseWebhookMaxSilence(getenv("LKGATE_WEBHOOK_MAX_SILENCE"))
	if err != nil {
		return c, err
	}
	c.webhookMaxSilence = maxSilence
	switch names := getenv("LKGATE_ROOM_NAMES"); names {
	case "", "scoped":
		c.manager.RoomNames = lkgate.ScopedNames
	case "shared":
		c.manager.RoomNames = lkgate.SharedNames
		if tenants := c.tenants(); tenants > 1 && c.redisAddr == "" {
			return c, fmt.Errorf("LKGATE_ROOM_NAMES=shared with %d tenants needs LKGATE_REDIS_ADDR: in-process leases are lost on restart, freeing every tenant's names to the others", tenants)
		}
	default:
		return c, fmt.Errorf("LKGATE_ROOM_NAMES must be scoped or shared, got %q", names)
	}
	if c.addr == "" {
		c.addr = "127.0.0.1:8080"
	}
	if c.prefix == "" {
		c.prefix = "/api/v1"
	}
	if c.prefix != "/" && (!strings.HasPrefix(c.prefix, "/") || strings.HasSuffix(c.prefix, "/")) {
		return c, fmt.Errorf("LKGATE_PREFIX must be / (the published paths) or start with / and not end with one, got %q", c.prefix)
	}
	if c.prefix == "/demo" {
		return c, errors.New("LKGATE_PREFIX must not be /demo: the demo page uses it")
	}
	if c.livekitClient != "" {
		if st, err := os.Stat(c.livekitClient); err != nil || st.IsDir() {
			return c, fmt.Errorf("LKGATE_DEMO_LIVEKIT_CLIENT: %q is not a file (run npm ci in web/): %v", c.livekitClient, err)
		}
		if c.demoUsers == nil {
			return c, errors.New("LKGATE_DEMO_USERS is not set: the demo page signs people in as these users")
		}
	}
	return c, nil
}

// tenants counts the distinct tenants of the API keys and demo users.
func (c config) tenants() int {
	seen := map[string]bool{}
	for _, p := range c.keys {
		seen[p.Tenant] = true
	}
	for _, u := range c.demoUsers {
		seen[u.tenant] = true
	}
	return len(seen)
}

// localHosts are the Host headers unauthenticated mode serves for the
// listen address addr: on loopback or on every interface, localhost and
// the loopback addresses on its port; otherwise addr itself.
func localHosts(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{addr}
	}
	if ip := net.ParseIP(host); host != "" && host != "localhost" && (ip == nil || !ip.IsLoopback() && !ip.IsUnspecified()) {
		return []string{addr}
	}
	return []string{net.JoinHostPort("localhost", port), net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}
}

// publishedGuestPrefix is where the published guest API puts the guest
// routes, which LKGATE_PREFIX=/ serves there too.
const publishedGuestPrefix = "/api/v1"

// apiBase is what precedes a route's path (such as /livekit/token) in the
// paths clients call: the prefix, or nothing at the root.
func (c config) apiBase() string { return strings.TrimSuffix(c.prefix, "/") }

// apiMounts are the mux patterns the API is mounted at, each with the
// prefix to strip before the API sees the path: all of it under the prefix,
// or with LKGATE_PREFIX=/ the published paths, which leave the demo page
// its /, /join and /demo/.
func (c config) apiMounts() map[string]string {
	if c.prefix != "/" {
		return map[string]string{c.prefix + "/": c.prefix}
	}
	return map[string]string{
		"/livekit/":                              "",
		"/sip/":                                  "",
		"/openapi.yaml":                          "",
		publishedGuestPrefix + "/livekit/guest/": publishedGuestPrefix,
	}
}

// newMux builds the host's mux with lkgate mounted as cfg.prefix says. The
// closer stops the background work (the webhook health check, the lease
// sweeper of shared names): close it on shutdown.
func newMux(cfg config, logger *slog.Logger) (_ *http.ServeMux, _ io.Closer, err error) {
	mcfg := cfg.manager
	mcfg.Logger = logger
	var seen lkgate.SeenEvents // nil: httpx's in-process store
	if cfg.redisAddr != "" {
		client := redis.NewClient(&redis.Options{Addr: cfg.redisAddr})
		lock, err := redislock.New(redislock.Config{Client: client})
		if err != nil {
			return nil, nil, fmt.Errorf("LKGATE_REDIS_ADDR: %w", err)
		}
		store, err := redislimit.New(redislimit.Config{Client: client})
		if err != nil {
			return nil, nil, fmt.Errorf("LKGATE_REDIS_ADDR: %w", err)
		}
		mcfg.Locker, mcfg.Limits.Store, mcfg.Bans, seen = lock, store, store, store
		if mcfg.RoomNames == lkgate.SharedNames {
			mcfg.Leases = store
		}
		if cfg.roomIndex {
			if mcfg.RoomIndex, err = redislimit.NewRoomIndex(redislimit.Config{Client: client}); err != nil {
				return nil, nil, fmt.Errorf("LKGATE_REDIS_ADDR: %w", err)
			}
		}
	} else if cfg.roomIndex {
		mcfg.RoomIndex = lkgate.NewMemoryRoomIndex(mcfg.Now)
	}
	m, err := lkgate.New(mcfg)
	if err != nil {
		return nil, nil, envError(err)
	}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	var users *sessions
	if cfg.demoUsers != nil {
		users = newSessions(cfg.demoUsers)
	}
	authenticator := httpx.Unauthenticated(localHosts(cfg.addr)...)
	if !mcfg.AllowUnauthenticated {
		var keys *httpx.StaticKeys
		if keys, err = httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: cfg.keys, AllowQueryKey: cfg.allowQueryKey}); err != nil {
			return nil, nil, fmt.Errorf("LKGATE_API_KEYS: %w", err)
		}
		authenticator = apiAuth{keys: keys, sessions: users}
	}
	var guests *lkgate.Guests
	if cfg.guests != nil {
		if guests, err = lkgate.NewGuests(m, *cfg.guests); err != nil {
			return nil, nil, envError(err)
		}
	}
	var sip *lkgate.SIP
	if cfg.sip != nil {
		if sip, err = lkgate.NewSIP(m, *cfg.sip); err != nil {
			return nil, nil, envError(err)
		}
	}
	health := newHealth(cfg, logger)
	api, err := httpx.New(m, httpx.Config{Authenticator: authenticator, Logger: logger, SeenEvents: seen, OnWebhook: health.received, Guests: guests, SIP: sip})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	csrf := newCrossOriginProtection()
	for pattern, strip := range cfg.apiMounts() {
		mux.Handle(pattern, csrf.Handler(http.StripPrefix(strip, api)))
	}
	mux.Handle("GET /healthz", health)
	if cfg.livekitClient != "" {
		mountDemo(mux, cfg, users, csrf)
	}
	health.start()
	return mux, closers{health, m}, nil
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("server stopped", "error", lkgate.Redact(err.Error()))
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	mux, manager, err := newMux(cfg, logger)
	if err != nil {
		return err
	}
	defer manager.Close()
	srv := &http.Server{
		Addr:              cfg.addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("LKGATE_ADDR: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("lkgate example server listening", "addr", cfg.addr, "api", cfg.prefix, "livekit", cfg.manager.URL, "demo", cfg.livekitClient != "")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
