package lkgate

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"golang.org/x/sync/singleflight"

	"github.com/lkgate/lkgate/internal/faillog"
)

// RoomService is the part of LiveKit's RoomService that lkgate calls.
// *lksdk.RoomServiceClient satisfies it, and so does the client of an
// lkgatetest.Server.
type RoomService interface {
	CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error)
	DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error)
	ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error)
	UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error)
	ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error)
	GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error)
	RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error)
	MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error)
	UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error)
}

var _ RoomService = (*lksdk.RoomServiceClient)(nil)

// Defaults and limits applied by New.
const (
	DefaultTokenTTL    = 10 * time.Minute
	DefaultMaxTokenTTL = time.Hour
	// DefaultRequestTimeout is Config.RequestTimeout's default: below the
	// 15 to 30 s after which browsers' and proxies' own timeouts end a
	// request, so that a slow LiveKit is answered with lkgate's 504.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultBreakerFailures is Config.BreakerFailures's default.
	DefaultBreakerFailures = 5
	// DefaultBreakerOpenFor is Config.BreakerOpenFor's default.
	DefaultBreakerOpenFor = 2 * time.Second
	// MinSecretLength is the shortest API secret accepted: LiveKit itself
	// warns about shorter ones, and HS256 wants at least 32 bytes of key.
	MinSecretLength = 32
)

// RoomOptions are the settings of the rooms of lkgate's tenants: applied
// when lkgate creates a room, and carried in every token it mints, so that
// a room created by a participant's join gets them too. Zero fields leave
// LiveKit's defaults (empty timeout 300 s, departure timeout 20 s, no
// limit).
type RoomOptions struct {
	EmptyTimeout     time.Duration
	DepartureTimeout time.Duration
	MaxParticipants  uint32
}

// Config configures a Manager. URL, APIKey and APISecret are required; every
// other zero value is meaningful and documented on its field.
type Config struct {
	// URL is LiveKit's API address: http, https, ws or wss, with a host.
	URL string
	// PublicURL is the address handed to clients with their tokens. Empty
	// means URL with http(s) turned into ws(s).
	PublicURL string
	// APIKey and APISecret are LiveKit's API key pair. The key identifies
	// lkgate to LiveKit and is no secret: every client token carries it as
	// its issuer ("iss"), and Config's String and LogValue print it. The
	// secret signs every token: it must be at least MinSecretLength bytes
	// long, and is never printed, logged or sent.
	APIKey    string
	APISecret string

	// TokenTTL is the lifetime of a minted token when the request does not
	// set one. Zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// MaxTokenTTL caps the lifetime a request may ask for. Zero means
	// DefaultMaxTokenTTL.
	MaxTokenTTL time.Duration

	// RoomNames is how tenants' room names map to LiveKit's, which are
	// global. The zero value, ScopedNames, gives each tenant its own
	// namespace; SharedNames keeps names global, owned by leases.
	RoomNames RoomNaming
	// PrecreateRooms makes Token and Guests.Admit create the room in
	// LiveKit before answering, so that it exists, with its agents
	// dispatched, before anyone joins; otherwise, under ScopedNames, the
	// first join creates it. SharedNames always creates rooms, so it
	// refuses this field.
	PrecreateRooms bool
	// Room is applied to the rooms of lkgate's tenants.
	Room RoomOptions
	// AllowAgent, when set, must approve every agent a token asks LiveKit
	// to dispatch (TokenRequest.Agents), by tenant and agent name; a
	// refused name is ErrForbidden. Nil refuses every named agent (see
	// AllowAgents): an agent runs with its deployment's credentials and
	// data. LiveKit's automatic dispatch of unnamed agents is not governed
	// here.
	AllowAgent func(tenant, agentName string) bool
	// UnownedRooms is the policy, under SharedNames, for rooms that exist
	// without an owner. ScopedNames refuses a non-zero value.
	UnownedRooms UnownedRoomPolicy
	// Leases keeps the leases of shared names (SharedNames only; ScopedNames
	// refuses it). Nil means NewMemoryLeaseStore: correct for one process
	// while it runs, but a restart forgets every lease, and replicas do not
	// share it. Several replicas, or a process that restarts while tenants
	// are active, need a shared store such as redislimit's.
	Leases LeaseStore
	// LeaseSweepInterval is how often, under SharedNames, the Manager renews
	// the leases of the rooms open in LiveKit (one unfiltered ListRooms per
	// replica). Zero means DefaultLeaseSweepInterval.
	LeaseSweepInterval time.Duration
	// Bans keeps the bans of Manager.Ban. Nil means NewMemoryBanStore:
	// correct for one process while it runs, but a restart forgets every
	// ban, and replicas do not share it; use a shared store such as
	// redislimit's.
	Bans BanStore
	// BanSweepInterval is how often the Manager looks in LiveKit for
	// identities banned from the room they are in and removes them
	// (Manager.SweepBans): what keeps a ban without webhooks, and against a
	// client that only signals, which LiveKit reports in no webhook. Zero
	// means DefaultBanSweepInterval (10 s); negative means never, for a host
	// that runs SweepBans itself on one replica. At least 1 s.
	BanSweepInterval time.Duration
	// AllowUnauthenticated lets methods run with the empty tenant, skipping
	// every ownership check. Off by default, so that a forgotten tenant is an
	// error (ErrUnauthenticated) instead of access to every room.
	AllowUnauthenticated bool
	// AllowUnattributedJoins stops the join guard (GuardJoin) from removing
	// participants whose tokens lkgate did not mint from owned rooms. Leave
	// it off unless the host mints some tokens itself.
	AllowUnattributedJoins bool

	// Limits sets per-tenant quotas and rates (see LimitConfig).
	Limits LimitConfig
	// Auditor receives an AuditEvent for every state-changing action. Nil
	// means NewSlogAuditor(Logger): with a nil Logger, events are dropped.
	Auditor Auditor
	// Usage receives a UsageRecord for every participant and room session
	// that ends (Manager.RecordUsage). Nil means
	// NewSlogUsageRecorder(Logger): with a nil Logger, records are dropped.
	Usage UsageRecorder

	// RoomService reaches LiveKit. Nil means NewRoomService(URL, APIKey,
	// APISecret); *lksdk.RoomServiceClient also fits.
	RoomService RoomService
	// Locker serialises room claims (SharedNames) and room counts (with a
	// room quota). Nil means an in-process lock, which is correct for one
	// replica; several replicas need a shared Locker.
	Locker Locker
	// RequestTimeout bounds every Manager operation, all its LiveKit and
	// store calls together: one still running when it ends fails with
	// ErrTimeout (504), never later. A shorter deadline on the caller's
	// context wins. It also bounds a room preparation (read, count, create,
	// claim), which runs on behalf of every caller coalesced into it; a
	// SIP.Call that waits until answered gets its ringing time on top. Zero
	// means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// BreakerFailures is how many LiveKit calls in a row must fail to reach
	// it (never an answer such as not found or a SIP call's outcome) before
	// lkgate stops calling LiveKit for BreakerOpenFor: operations then fail
	// at once with ErrUnavailable and a RetryAfter, until a probe in the
	// background finds LiveKit back. Zero means DefaultBreakerFailures.
	BreakerFailures int
	// BreakerOpenFor is how long lkgate stops calling LiveKit once
	// BreakerFailures calls failed, before it probes again. Zero means
	// DefaultBreakerOpenFor.
	BreakerOpenFor time.Duration
	// ListStaleness bounds how old the LiveKit room list behind
	// Manager.ListRooms may be. Every tenant's list requests share one
	// unfiltered ListRooms: concurrent ones wait for the same call, and its
	// answer serves those that follow for ListStaleness. A room this
	// Manager creates (Config.PrecreateRooms, a room quota, a claim under
	// SharedNames, a SIP call's room), claims or deletes (DeleteRoom, the
	// cleanup of a failed claim) shows in the next list at once; one that
	// a participant's join creates, or another replica or tool writes,
	// within ListStaleness. Nothing that decides (room quotas, claims,
	// ownership checks, the lease sweeper, guest caps) reads the shared
	// list. Zero means DefaultListStaleness (1 s); at most
	// MaxListStaleness. UnsharedListRooms turns the sharing off. With a
	// RoomIndex, only the lists of unauthenticated mode share it.
	ListStaleness time.Duration
	// UnsharedListRooms makes every Manager.ListRooms make its own
	// ListRooms call, as before ListStaleness.
	UnsharedListRooms bool
	// RoomIndex, when set, keeps the names of each tenant's rooms, so that
	// Manager.ListRooms and the room quotas' counts cost the tenant's own
	// rooms (ListRooms by name) instead of one unfiltered ListRooms of every
	// room on LiveKit (see RoomIndex and docs/scaling.md). The Manager
	// feeds it with the rooms it creates, claims and deletes (an index
	// failure there is logged, never the operation's), with LiveKit's
	// room_started and room_finished webhooks (Manager.IndexRoomEvent, which
	// httpx's webhook route calls), and reconciles it every
	// RoomIndexReconcile. Replicas share one index, such as redislimit's;
	// NewMemoryRoomIndex serves one process. Lists and counts in
	// unauthenticated mode do not use it. Nil: no index, every list and
	// count reads LiveKit's whole list as before.
	RoomIndex RoomIndex
	// RoomIndexReconcile is how often the Manager reconciles RoomIndex with
	// LiveKit (Manager.ReconcileRoomIndex), once at start and then at this
	// interval: each costs one unfiltered ListRooms, linear in every room on
	// LiveKit, per replica. Zero means DefaultRoomIndexReconcile (5 min);
	// at least 10 s. Negative means never: the host runs
	// Manager.ReconcileRoomIndex itself, on one replica.
	RoomIndexReconcile time.Duration
	// Logger receives operational logs. Nil discards them. Tokens, the
	// API secret and invite keys are never logged, and every store, lock,
	// policy and LiveKit error text is redacted (Manager.Redact). Failures
	// are aggregated: the first of a kind is logged at once, then at most
	// one line per 10 s per kind, counting the others ("repeated").
	Logger *slog.Logger
	// Now is the clock used for token times. Nil means time.Now.
	Now func() time.Time
}

// Manager mints tokens and runs tenant-checked operations against
// LiveKit; it is safe for concurrent use. Its state is what its stores
// keep: the limits' counters ([Config].Limits), under [SharedNames] the
// names' leases ([Config].Leases, with a sweeper until [Manager.Close]),
// and the rooms it created until LiveKit lists them. The in-process
// defaults serve one replica; replicas serving the same tenants share a
// [LimitStore], a [LeaseStore] and a [Locker] (see the package tour).
type Manager struct {
	cfg       settings
	publicURL string
	rooms     RoomService
	locker    Locker
	log       *slog.Logger
	now       func() time.Time
	ensures   singleflight.Group
	limits    LimitStore
	auditor   Auditor
	usage     UsageRecorder
	peaks     roomPeaks
	leases    *leaser // nil under ScopedNames
	bans      BanStore
	breaker   *breaker
	unlisted  unlistedRooms // rooms created that LiveKit's list did not show yet
	listed    sharedList    // the room list ListRooms shares (Config.ListStaleness)
	index     RoomIndex     // nil: none (Config.RoomIndex)
	// bg is canceled by Close, which waits for bgWork: the breaker's
	// probes and the cleanup of abandoned rooms.
	bg        context.Context
	stopBG    context.CancelFunc
	bgWork    sync.WaitGroup
	closeOnce sync.Once
	// secrets redacts the API secret and the invite keys of every
	// NewGuests (Manager.Redact), whose spellings secretPairs holds;
	// failures aggregates failure lines (logFailure).
	secrets     atomic.Pointer[strings.Replacer]
	secretsMu   sync.Mutex
	secretPairs []string
	failures    *faillog.Log
	signer      *signer // signs tokens with APISecret
}

// New validates cfg and returns a Manager, with no network call. It starts
// the ban sweep ([Config].BanSweepInterval) and, under [SharedNames], the
// lease sweeper, which [Manager.Close] stops.
// Errors wrap [ErrInvalidArgument] and name the faulty Config field.
func New(cfg Config) (*Manager, error) {
	if err := validateURL("URL", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = toWebSocketURL(cfg.URL)
	} else if err := validateURL("PublicURL", cfg.PublicURL); err != nil {
		return nil, err
	}
	if cfg.APIKey == "" {
		return nil, invalidArg("APIKey", "is required")
	}
	if strings.ContainsFunc(cfg.APIKey, isControlOrSpace) {
		return nil, invalidArg("APIKey", "must not contain spaces or control characters")
	}
	if cfg.APISecret == "" {
		return nil, invalidArg("APISecret", "is required")
	}
	if len(cfg.APISecret) < MinSecretLength {
		return nil, invalidArg("APISecret", "is %d bytes long; it must be at least %d", len(cfg.APISecret), MinSecretLength)
	}
	for _, err := range []error{
		fillDefault("TokenTTL", &cfg.TokenTTL, DefaultTokenTTL),
		fillDefault("MaxTokenTTL", &cfg.MaxTokenTTL, DefaultMaxTokenTTL),
		fillDefault("RequestTimeout", &cfg.RequestTimeout, DefaultRequestTimeout),
		fillDefault("BreakerFailures", &cfg.BreakerFailures, DefaultBreakerFailures),
		fillDefault("BreakerOpenFor", &cfg.BreakerOpenFor, DefaultBreakerOpenFor),
		fillDefault("ListStaleness", &cfg.ListStaleness, DefaultListStaleness),
	} {
		if err != nil {
			return nil, err
		}
	}
	if cfg.ListStaleness > MaxListStaleness {
		return nil, invalidArg("ListStaleness", "%s exceeds MaxListStaleness %s", cfg.ListStaleness, MaxListStaleness)
	}
	if cfg.RoomIndexReconcile == 0 {
		cfg.RoomIndexReconcile = DefaultRoomIndexReconcile
	} else if cfg.RoomIndexReconcile > 0 && cfg.RoomIndexReconcile < 10*time.Second {
		return nil, invalidArg("RoomIndexReconcile", "must be at least 10s, or negative for never")
	}
	if cfg.TokenTTL > cfg.MaxTokenTTL {
		return nil, invalidArg("TokenTTL", "%s exceeds MaxTokenTTL %s", cfg.TokenTTL, cfg.MaxTokenTTL)
	}
	if cfg.Room.EmptyTimeout < 0 || cfg.Room.DepartureTimeout < 0 {
		return nil, invalidArg("Room", "timeouts must not be negative")
	}
	if cfg.UnownedRooms != ClaimUnowned && cfg.UnownedRooms != DenyUnowned {
		return nil, invalidArg("UnownedRooms", "unknown policy %d", cfg.UnownedRooms)
	}
	if cfg.LeaseSweepInterval == 0 {
		cfg.LeaseSweepInterval = DefaultLeaseSweepInterval
	} else if cfg.LeaseSweepInterval < time.Second || cfg.LeaseSweepInterval > 5*time.Minute {
		return nil, invalidArg("LeaseSweepInterval", "must lie between 1s and 5m")
	}
	if cfg.BanSweepInterval == 0 {
		cfg.BanSweepInterval = DefaultBanSweepInterval
	} else if cfg.BanSweepInterval > 0 && cfg.BanSweepInterval < time.Second {
		return nil, invalidArg("BanSweepInterval", "must be at least 1s, or negative for never")
	}
	switch cfg.RoomNames {
	case ScopedNames:
		switch {
		case cfg.UnownedRooms != ClaimUnowned:
			return nil, invalidArg("UnownedRooms", "applies to SharedNames only: under ScopedNames no room is ever claimed")
		case cfg.Leases != nil:
			return nil, invalidArg("Leases", "applies to SharedNames only: scoped names need no lease")
		}
	case SharedNames:
		if cfg.PrecreateRooms {
			return nil, invalidArg("PrecreateRooms", "applies to ScopedNames only: SharedNames always creates rooms")
		}
	default:
		return nil, invalidArg("RoomNames", "unknown naming %d", cfg.RoomNames)
	}
	if err := cfg.Limits.Default.validate("Limits.Default"); err != nil {
		return nil, err
	}
	m := &Manager{cfg: settings{
		URL: cfg.URL, APIKey: cfg.APIKey, APISecret: cfg.APISecret,
		TokenTTL: cfg.TokenTTL, MaxTokenTTL: cfg.MaxTokenTTL, RequestTimeout: cfg.RequestTimeout,
		RoomNames: cfg.RoomNames, PrecreateRooms: cfg.PrecreateRooms, Room: cfg.Room,
		AllowAgent: cfg.AllowAgent, UnownedRooms: cfg.UnownedRooms,
		AllowUnauthenticated: cfg.AllowUnauthenticated, AllowUnattributedJoins: cfg.AllowUnattributedJoins,
		DefaultLimits: cfg.Limits.Default, TenantLimits: cfg.Limits.Tenant,
	}, publicURL: cfg.PublicURL, rooms: cfg.RoomService, locker: cfg.Locker,
		log: cfg.Logger, now: cfg.Now, limits: cfg.Limits.Store, auditor: cfg.Auditor, bans: cfg.Bans,
		index: cfg.RoomIndex}
	if m.rooms == nil {
		m.rooms = NewRoomService(cfg.URL, cfg.APIKey, cfg.APISecret)
	}
	if !cfg.UnsharedListRooms {
		m.listed.staleness = cfg.ListStaleness
	}
	m.bg, m.stopBG = context.WithCancel(context.Background())
	m.breaker = newBreaker(m, m.rooms, cfg.BreakerFailures, cfg.BreakerOpenFor)
	m.rooms = guardedRooms{m.rooms, m.breaker}
	m.locker = cmp.Or(m.locker, NewLocalLocker())
	m.log = cmp.Or(m.log, slog.New(slog.DiscardHandler))
	if m.now == nil {
		m.now = time.Now
	}
	m.addSecrets(cfg.APISecret)
	m.signer = newSigner(cfg.APISecret)
	m.failures = faillog.New(m.log, m.now, m.Redact)
	m.limits = cmp.Or(m.limits, NewMemoryLimitStore(m.now))
	m.auditor = cmp.Or(m.auditor, NewSlogAuditor(m.log))
	m.usage = cmp.Or(cfg.Usage, NewSlogUsageRecorder(m.log))
	m.bans = cmp.Or(m.bans, NewMemoryBanStore(m.now))
	if cfg.RoomNames == SharedNames {
		m.leases = &leaser{store: cmp.Or(cfg.Leases, NewMemoryLeaseStore(m.now)), interval: cfg.LeaseSweepInterval}
		m.startSweeper()
	}
	if m.index != nil && cfg.RoomIndexReconcile > 0 {
		// At once too: an index may start empty.
		m.every(cfg.RoomIndexReconcile, true, "room index reconciliation failed", func(ctx context.Context) error {
			_, err := m.ReconcileRoomIndex(ctx)
			return err
		})
	}
	if cfg.BanSweepInterval > 0 {
		m.every(cfg.BanSweepInterval, false, "ban sweep failed", func(ctx context.Context) error {
			_, err := m.SweepBans(ctx)
			return err
		})
	}
	return m, nil
}

// every runs run every interval, and at once first if atStart, until
// Close; a failure is logged as msg.
func (m *Manager) every(interval time.Duration, atStart bool, msg string, run func(context.Context) error) {
	m.bgWork.Add(1)
	go func() {
		defer m.bgWork.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for wait := !atStart; ; wait = true {
			if wait {
				select {
				case <-m.bg.Done():
					return
				case <-t.C:
				}
			}
			if err := run(m.bg); err != nil && m.bg.Err() == nil {
				m.logFailure(m.bg, slog.LevelWarn, msg, err)
			}
		}
	}()
}

// fillDefault gives the zero *v its default, and refuses a negative one.
func fillDefault[T ~int | ~int64](field string, v *T, def T) error {
	if *v < 0 {
		return invalidArg(field, "must not be negative")
	}
	if *v == 0 {
		*v = def
	}
	return nil
}

// settings are the Manager's resolved Config, named as its fields; the
// dependencies are resolved into the Manager's own fields instead.
type settings struct {
	URL, APIKey, APISecret                       string
	TokenTTL, MaxTokenTTL, RequestTimeout        time.Duration
	RoomNames                                    RoomNaming
	PrecreateRooms                               bool
	Room                                         RoomOptions
	AllowAgent                                   func(tenant, agentName string) bool
	UnownedRooms                                 UnownedRoomPolicy
	AllowUnauthenticated, AllowUnattributedJoins bool
	DefaultLimits                                Limits
	TenantLimits                                 func(tenant string) (Limits, bool)
}

// Close stops the Manager's background work and waits for it: the ban
// sweep, the lease sweeper of [SharedNames], the reconciliation of
// [Config].RoomIndex, the breaker's probe of LiveKit and the deletion of
// rooms whose claim failed (each bounded by a few seconds). Call it when
// the Manager is no longer used. It is safe to call more than once, and
// always returns nil.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		if m.leases != nil {
			m.leases.stop()
			<-m.leases.done
		}
		m.stopBG()
		m.bgWork.Wait()
	})
	return nil
}

// PublicURL returns the LiveKit address handed to clients.
func (m *Manager) PublicURL() string { return m.publicURL }

func validateURL(field, raw string) error {
	if raw == "" {
		return invalidArg(field, "is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalidArg(field, "is not a valid URL")
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return invalidArg(field, "scheme must be http, https, ws or wss, not %q", u.Scheme)
	}
	if u.Host == "" {
		return invalidArg(field, "has no host")
	}
	if u.User != nil {
		return invalidArg(field, "must not carry credentials; use APIKey and APISecret")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return invalidArg(field, "must not have a query or fragment")
	}
	return nil
}

func toWebSocketURL(raw string) string {
	return replaceScheme(raw, [2]string{"http", "ws"}, [2]string{"https", "wss"})
}

func toHTTPURL(raw string) string {
	return replaceScheme(raw, [2]string{"ws", "http"}, [2]string{"wss", "https"})
}

// replaceScheme gives raw the scheme to of the first {from, to} pair whose
// from it has; any other URL is returned unchanged.
func replaceScheme(raw string, pairs ...[2]string) string {
	for _, p := range pairs {
		if rest, ok := strings.CutPrefix(raw, p[0]+"://"); ok {
			return p[1] + "://" + rest
		}
	}
	return raw
}

// withBudget bounds an operation by budget. A caller's earlier deadline
// wins, and is marked so that its expiry does not count against LiveKit in
// the breaker.
func (m *Manager) withBudget(ctx context.Context, budget time.Duration) *deadlineCtx {
	own := time.Now().Add(budget)
	if d, ok := ctx.Deadline(); ok && d.Before(own) {
		ctx = context.WithValue(ctx, callerDeadlineKey{}, true)
	}
	return newDeadlineCtx(ctx, own)
}

type callerDeadlineKey struct{}

// callerDeadlineExpired tells whether ctx ended by a deadline its caller
// set, shorter than lkgate's own.
func callerDeadlineExpired(ctx context.Context) bool {
	return ctx.Err() == context.DeadlineExceeded && ctx.Value(callerDeadlineKey{}) != nil
}

// tenantMode resolves the tenant argument of a method: checked says whether
// ownership checks apply.
func (m *Manager) tenantMode(tenant string) (checked bool, err error) {
	if tenant != "" {
		if err := validateText("tenant", tenant, MaxTenantBytes); err != nil {
			return false, err
		}
		return true, nil
	}
	if m.cfg.AllowUnauthenticated {
		return false, nil
	}
	return false, &Error{Kind: ErrUnauthenticated, Msg: "no tenant given and unauthenticated mode is off"}
}

func durationSeconds(d time.Duration) uint32 {
	return uint32(d / time.Second)
}

// String describes the Manager without its credentials, so that printing
// it by mistake leaks nothing.
func (m *Manager) String() string {
	return fmt.Sprintf("lkgate.Manager{URL: %s}", m.cfg.URL)
}

// GoString is String, so that %#v does not print the credentials either.
func (m *Manager) GoString() string { return m.String() }

// Format prints String for every verb, so that none (%d, %x...) reaches
// the credentials.
func (m *Manager) Format(f fmt.State, verb rune) { formatRedacted(f, verb, m.String()) }

// String formats the Config with APISecret redacted.
func (c Config) String() string {
	return fmt.Sprintf("lkgate.Config{URL: %s, PublicURL: %s, APIKey: %s, APISecret: [REDACTED]}", c.URL, c.PublicURL, c.APIKey)
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb, so that none (%x, %d...) reaches
// the secret.
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue logs the Config with APISecret redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", c.URL), slog.String("public_url", c.PublicURL), slog.String("api_key", c.APIKey))
}
