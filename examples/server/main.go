// Command server is an example host: it mounts lkgate's HTTP API under a
// prefix on its own mux, configured from environment variables.
//
//	LIVEKIT_URL          LiveKit API URL, e.g. http://127.0.0.1:7880 (required)
//	LIVEKIT_PUBLIC_URL   URL handed to clients (default: LIVEKIT_URL as ws/wss)
//	LIVEKIT_API_KEY      LiveKit API key (required)
//	LIVEKIT_API_SECRET   LiveKit API secret, at least 32 bytes (required)
//	LKGATE_API_KEYS      comma-separated key=tenant[:subject] entries (required,
//	                     unless LKGATE_UNAUTHENTICATED=1)
//	LKGATE_UNAUTHENTICATED  1: no API keys, no tenants, every room open to every
//	                     caller (for local experiments only; refused with API keys)
//	LKGATE_ADDR          listen address (default 127.0.0.1:8080)
//	LKGATE_PREFIX        where the API is mounted (default /api/v1)
//	LKGATE_INVITE_KEYS   guest invite keys, comma-separated id=<base64 of 32 random
//	                     bytes>, newest first (optional: without it guests are off)
//	LKGATE_INVITE_BASE_URL  the guest page; invites are <it>/join?invite_token=...
//	LKGATE_SIP_TRUNKS    comma-separated tenant=trunk-id entries: each tenant's
//	                     LiveKit outbound trunk (default: SIP routes off, 501)
//	LKGATE_LIMITS        every tenant's limits, comma-separated limit=value:
//	                     max_rooms=50,token_rate=20/s:40,sip_call_rate=10/m,
//	                     max_concurrent_sip_calls=5,invite_rate=30/m,
//	                     guest_wait_rate=60/m:20 (a rate is
//	                     events/s or events/m, with an optional :burst;
//	                     default: no limits)
//	LKGATE_ROOM_NAMES    scoped (default): each tenant has its own room names,
//	                     so two tenants may both have "standup"; shared: names
//	                     are global, and a name stays with the first tenant to
//	                     use it while its tokens live (a lease). shared with
//	                     several tenants needs LKGATE_REDIS_ADDR, where leases
//	                     survive restarts
//	LKGATE_REDIS_ADDR    host:port of a Redis shared by replicas: the locks, the
//	                     limits and (shared names) the leases go there
//	                     (default: in-process)
//	LKGATE_DEMO_LIVEKIT_CLIENT  path of livekit-client's ESM build
//	                     (web/node_modules/livekit-client/dist/livekit-client.esm.mjs
//	                     after npm ci in web/); when set, the demo page is served
//	                     at / (host) and /join (guest). Default: API only.
//
// The demo page signs in with an API key, fetches its token through
// livekit-client's TokenSource.endpoint from the token route, joins with
// camera and microphone, lists the participants through the room route,
// mutes and removes them, invites guests and admits them from the waiting
// list. /join is the guest page: set LKGATE_INVITE_BASE_URL to this
// server's address so invite links open it.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	keys    map[string]httpx.Principal
	addr    string
	prefix  string
	// livekitClient is the path of livekit-client's ESM build; empty means
	// no demo page.
	livekitClient string
	// redisAddr is the Redis shared by replicas; empty means in-process.
	redisAddr string
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
		default:
			return l, fmt.Errorf("entry %d: unknown limit %q", i+1, name)
		}
		if err != nil || l.MaxRooms < 0 || l.MaxConcurrentSIPCalls < 0 {
			return l, fmt.Errorf("%s: %q is not a valid value", name, value)
		}
	}
	return l, nil
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
		for i, entry := range strings.Split(getenv("LKGATE_API_KEYS"), ",") {
			key, principal, ok := strings.Cut(strings.TrimSpace(entry), "=")
			tenant, subject, _ := strings.Cut(principal, ":")
			if !ok || key == "" || tenant == "" {
				return c, fmt.Errorf("LKGATE_API_KEYS: entry %d is not key=tenant[:subject]", i+1)
			}
			if _, dup := c.keys[key]; dup {
				return c, fmt.Errorf("LKGATE_API_KEYS: entry %d repeats a key", i+1)
			}
			c.keys[key] = httpx.Principal{Tenant: tenant, Subject: subject}
		}
	}
	if keys := getenv("LKGATE_INVITE_KEYS"); keys != "" {
		for i, entry := range strings.Split(keys, ",") {
			id, b64, _ := strings.Cut(strings.TrimSpace(entry), "=")
			key, err := base64.StdEncoding.DecodeString(b64)
			if id == "" || err != nil {
				return c, fmt.Errorf("LKGATE_INVITE_KEYS: entry %d is not id=<base64 key>", i+1)
			}
			c.manager.Guests.Keys = append(c.manager.Guests.Keys, lkgate.InviteKey{ID: id, Key: key})
		}
		c.manager.Guests.InviteBaseURL = getenv("LKGATE_INVITE_BASE_URL")
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
		c.manager.SIP.Trunks = lkgate.TenantTrunks(trunks)
	}
	if raw := getenv("LKGATE_LIMITS"); raw != "" {
		l, err := parseLimits(raw)
		if err != nil {
			return c, fmt.Errorf("LKGATE_LIMITS: %w", err)
		}
		c.manager.Limits.Default = l
	}
	c.redisAddr = getenv("LKGATE_REDIS_ADDR")
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
	if !strings.HasPrefix(c.prefix, "/") || strings.HasSuffix(c.prefix, "/") {
		return c, fmt.Errorf("LKGATE_PREFIX must start with / and not end with one, got %q", c.prefix)
	}
	if c.prefix == "/demo" {
		return c, errors.New("LKGATE_PREFIX must not be /demo: the demo page uses it")
	}
	if c.livekitClient != "" {
		if st, err := os.Stat(c.livekitClient); err != nil || st.IsDir() {
			return c, fmt.Errorf("LKGATE_DEMO_LIVEKIT_CLIENT: %q is not a file (run npm ci in web/): %v", c.livekitClient, err)
		}
	}
	return c, nil
}

// tenants counts the distinct tenants of the API keys.
func (c config) tenants() int {
	seen := map[string]bool{}
	for _, p := range c.keys {
		seen[p.Tenant] = true
	}
	return len(seen)
}

// newMux builds the host's mux with lkgate mounted under cfg.prefix. The
// closer stops the Manager's background work (the lease sweeper of shared
// names): close it on shutdown.
func newMux(cfg config, logger *slog.Logger) (_ *http.ServeMux, _ io.Closer, err error) {
	mcfg := cfg.manager
	mcfg.Logger = logger
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
		mcfg.Locker, mcfg.Limits.Store = lock, store
		if mcfg.RoomNames == lkgate.SharedNames {
			mcfg.Leases = store
		}
	}
	m, err := lkgate.New(mcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("LiveKit settings: %w", err)
	}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	authenticator := httpx.Unauthenticated()
	if !mcfg.AllowUnauthenticated {
		if authenticator, err = httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: cfg.keys}); err != nil {
			return nil, nil, fmt.Errorf("LKGATE_API_KEYS: %w", err)
		}
	}
	api, err := httpx.New(m, httpx.Config{Authenticator: authenticator, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.prefix+"/", http.StripPrefix(cfg.prefix, api))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	if cfg.livekitClient != "" {
		mountDemo(mux, cfg)
	}
	return mux, m, nil
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("server stopped", "error", err)
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
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
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
