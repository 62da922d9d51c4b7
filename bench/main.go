// Command bench measures lkgate's HTTP handlers against a real livekit-server
// and, in the same run, the naive flow a typical wrapper uses for the token
// route (list the room, create it, list again, write the owner, then mint).
// The token route runs under each room naming: scoped names (the default),
// scoped names with PrecreateRooms, and shared names with the in-process
// lease store and with redislimit's Redis store (when a redis-server can be
// started). For each operation it reports requests per second, p50 and p99
// latency, LiveKit round trips and lease-store calls per request,
// allocations per request and CPU per request.
//
// Its output is markdown, in this order: the token path's goals (issue 18,
// part 1: the scoped path against the 1-call paths and the naive flow),
// each checked, with what bounds the figure (an HTTP ceiling row driven
// like the token rows with no lkgate behind it, and a CPU profile of the
// scoped row by category); the table of driven rows and the ratios lkgate /
// naive; a burst of concurrent requests for a new room per mode; the
// handler's own share of a token request's CPU; the cost of every
// operation in process against lkgatetest's fake, under both namings,
// quotas off and on; and how listing scales with the number of rooms.
//
//	go run ./bench                      # starts .bin/livekit-server and redis-server itself
//	go run ./bench -sections costs      # the cost table alone: no livekit-server, no Redis
//	go run ./bench -livekit http://127.0.0.1:7880 -key devkey -secret ... -redis 127.0.0.1:6379
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twitchtv/twirp"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/httpx"
	"github.com/lkgate/lkgate/internal/counting"
	"github.com/lkgate/lkgate/internal/lkserver"
	"github.com/lkgate/lkgate/internal/redisserver"
	"github.com/lkgate/lkgate/redislimit"
)

const (
	apiKey = "bench-api-key-0123456789"
	// spreadRooms is how many rooms the "64 rooms" rows cycle through: no
	// two concurrent requests then share a room, so nothing coalesces.
	spreadRooms = 64
)

func main() {
	lkURL := flag.String("livekit", "", "LiveKit API URL; empty starts .bin/livekit-server on free loopback ports")
	key := flag.String("key", lkserver.APIKey, "LiveKit API key")
	secret := flag.String("secret", lkserver.APISecret, "LiveKit API secret")
	redisAddr := flag.String("redis", "", "Redis address for the shared-names lease store; empty starts redis-server on a free loopback port, or skips the Redis rows if it is not installed")
	duration := flag.Duration("duration", 3*time.Second, "how long each operation is driven")
	workers := flag.Int("c", 16, "concurrent clients")
	scale := flag.String("scale", "10,1000,10000", "room counts for the listing scale test (empty to skip)")
	sectionList := flag.String("sections", strings.Join(allSections, ","), "sections to run, comma-separated: "+strings.Join(allSections, ", "))
	costTime := flag.Duration("costtime", 200*time.Millisecond, "how long each operation of the cost table is run (testing.Benchmark's benchtime)")
	flag.Parse()
	sections, err := parseSections(*sectionList)
	if err != nil {
		log.Fatalf("bench: -sections: %v", err)
	}
	if !sections.needServer() {
		printHeader(*workers, *duration, "", "", "")
		if sections["costs"] {
			costTable(*costTime)
		}
		return
	}

	if *lkURL == "" {
		srv, err := lkserver.Launch()
		if err != nil {
			log.Fatalf("bench: starting livekit-server: %v", err)
		}
		defer srv.Stop()
		*lkURL = srv.URL
	}
	redisNote := ""
	if *redisAddr == "" {
		rs, err := redisserver.Launch()
		switch {
		case err == nil:
			defer rs.Stop()
			*redisAddr = rs.Addr
			redisNote = " (redis-server started by the bench)"
		case errors.Is(err, redisserver.ErrNotInstalled):
			fmt.Printf("note: %v: the Redis rows are skipped\n\n", err)
		default:
			log.Fatalf("bench: starting redis-server: %v", err)
		}
	}
	b := newBench(*lkURL, *key, *secret, *redisAddr, *duration, *workers)
	defer b.close()

	printHeader(*workers, *duration, *lkURL, *redisAddr, redisNote)
	if sections["tokens"] || sections["burst"] || sections["share"] {
		b.setup(context.Background())
	}
	if sections["tokens"] {
		b.run()
	}
	if sections["burst"] {
		b.burst()
	}
	if sections["share"] {
		b.handlerShare()
	}
	if sections["costs"] {
		costTable(*costTime)
	}
	// Shared-names Managers sweep every room on the server in the
	// background; stop them before the scale test fills it.
	b.closeManagers()
	if sections["scale"] && *scale != "" {
		b.listingScale(*scale)
	}
}

// allSections are the parts of the output -sections selects, in the order
// they print.
var allSections = []string{"tokens", "burst", "share", "costs", "scale"}

// sectionSet is the sections to run.
type sectionSet map[string]bool

func parseSections(list string) (sectionSet, error) {
	s := sectionSet{}
	for field := range strings.SplitSeq(list, ",") {
		field = strings.TrimSpace(field)
		if !slices.Contains(allSections, field) {
			return nil, fmt.Errorf("unknown section %q (want some of %s)", field, strings.Join(allSections, ", "))
		}
		s[field] = true
	}
	return s, nil
}

// needServer reports whether a section drives the real livekit-server;
// the cost table runs against the fake alone.
func (s sectionSet) needServer() bool {
	return s["tokens"] || s["burst"] || s["share"] || s["scale"]
}

// printHeader describes the run: the figures move with the machine and
// whatever else it runs.
func printHeader(workers int, d time.Duration, lkURL, redisAddr, redisNote string) {
	fmt.Printf("lkgate bench: %s, %d cores", runtime.Version(), runtime.NumCPU())
	if lkURL != "" {
		fmt.Printf(", %d concurrent clients, %s per operation, LiveKit at %s", workers, d, lkURL)
	}
	if redisAddr != "" {
		fmt.Printf(", Redis at %s%s", redisAddr, redisNote)
	}
	fmt.Printf("\n")
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at start: %s", load)
	}
	fmt.Println()
}

// variant is one token handler under test, mounted at path, with its own
// counts of LiveKit round trips and, under shared names, of lease-store
// calls.
type variant struct {
	name   string
	path   string
	m      *lkgate.Manager // nil for the naive and governed handlers
	h      http.Handler    // the lkgate handler, before the mount's prefix
	calls  atomic.Int64
	leases *countingLeases // set under shared names only
	bans   *countingBans   // set when the ban store is counted (the Redis bans row)
}

// bench holds every handler on the same LiveKit, behind one HTTP server.
type bench struct {
	lkURL, key, secret string
	redisAddr          string // "" without Redis
	duration           time.Duration
	workers            int
	// inProcess makes drive call the mux in process instead of over a
	// loopback connection.
	inProcess bool

	keys  httpx.Authenticator
	mux   *http.ServeMux
	api   *httptest.Server
	admin *lksdk.RoomServiceClient
	redis *redis.Client // nil without Redis

	naive, scoped, precreate, sharedMem, sharedRedis *variant // sharedRedis nil without Redis
	scopedRedisBans                                  *variant // nil without Redis
	governed, governedNoQuota                        *variant
	ceiling                                          *variant // no lkgate: the HTTP stack's bound
	ceilingH                                         *ceilingHandler
}

// countingHook counts the naive flow's SDK requests into n.
func countingHook(n *atomic.Int64) twirp.ClientOption {
	return twirp.WithClientHooks(&twirp.ClientHooks{RequestPrepared: func(ctx context.Context, _ *http.Request) (context.Context, error) {
		n.Add(1)
		return ctx, nil
	}})
}

func newBench(lkURL, key, secret, redisAddr string, d time.Duration, workers int) *bench {
	b := &bench{lkURL: lkURL, key: key, secret: secret, redisAddr: redisAddr, duration: d, workers: workers, mux: http.NewServeMux()}
	keys, err := httpx.NewStaticKeys(httpx.StaticKeysConfig{Keys: map[string]httpx.Principal{apiKey: {Tenant: "acme", Permissions: httpx.AllPermissions}}})
	if err != nil {
		log.Fatal(err)
	}
	b.keys = keys
	b.scoped = b.addManager("scoped", "/scoped", lkgate.Config{}, nil)
	b.precreate = b.addManager("scoped+precreate", "/precreate", lkgate.Config{PrecreateRooms: true}, nil)
	b.sharedMem = b.addManager("shared, memory leases", "/shared", lkgate.Config{RoomNames: lkgate.SharedNames},
		lkgate.NewMemoryLeaseStore(nil))
	if redisAddr != "" {
		b.redis = redis.NewClient(&redis.Options{Addr: redisAddr})
		// A prefix of its own, so that a Redis given with -redis keeps its keys apart.
		store, err := redislimit.New(redislimit.Config{Client: b.redis, Prefix: "lkgate-bench:"})
		if err != nil {
			log.Fatal(err)
		}
		b.sharedRedis = b.addManager("shared, Redis leases", "/shared-redis", lkgate.Config{RoomNames: lkgate.SharedNames}, store)
		b.scopedRedisBans = b.addManager("scoped, Redis bans", "/scoped-redis-bans", lkgate.Config{Bans: &countingBans{store: store}}, nil)
	}

	b.naive = &variant{name: "naive", path: "/naive"}
	b.mux.Handle("POST /naive/livekit/token", &naiveHandler{rooms: lksdk.NewRoomServiceClient(lkURL, key, secret, countingHook(&b.naive.calls)),
		key: key, secret: secret, url: lkURL})
	b.governed = b.addGoverned("governed", "/governed", true)
	b.governedNoQuota = b.addGoverned("governed without room quota", "/governed-noquota", false)
	b.ceilingH = &ceilingHandler{}
	b.ceiling = &variant{name: "HTTP ceiling", path: "/ceiling"}
	b.mux.Handle("POST /ceiling/livekit/token", b.ceilingH)

	b.api = httptest.NewServer(b.mux)
	b.admin = lksdk.NewRoomServiceClient(lkURL, key, secret)
	return b
}

// addManager mounts an lkgate handler for cfg, its LiveKit client counted,
// and its lease store counted when one is given (shared names).
func (b *bench) addManager(name, path string, cfg lkgate.Config, leases lkgate.LeaseStore) *variant {
	v := &variant{name: name, path: path}
	v.bans, _ = cfg.Bans.(*countingBans)
	cfg.URL, cfg.APIKey, cfg.APISecret = b.lkURL, b.key, b.secret
	cfg.RoomService = counting.Rooms{RoomService: lkgate.NewRoomService(b.lkURL, b.key, b.secret), N: &v.calls}
	if leases != nil {
		v.leases = &countingLeases{store: leases}
		cfg.Leases = v.leases
	}
	m, err := lkgate.New(cfg)
	if err != nil {
		log.Fatalf("bench: %s: %v", name, err)
	}
	v.m = m
	if v.leases != nil {
		// New starts the sweeper, which sweeps at once: wait for it, so
		// that no measurement pays for the first sweep.
		deadline := time.Now().Add(10 * time.Second)
		for v.leases.sweeps.Load() == 0 {
			if time.Now().After(deadline) {
				log.Fatalf("bench: %s: no lease sweep within 10s", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	v.h, err = httpx.New(m, httpx.Config{Authenticator: b.keys})
	if err != nil {
		log.Fatal(err)
	}
	b.mux.Handle(path+"/", http.StripPrefix(path, v.h))
	return v
}

func (b *bench) addGoverned(name, path string, quota bool) *variant {
	v := &variant{name: name, path: path}
	var err error
	v.h, err = newGoverned(b.lkURL, b.key, b.secret, quota, &v.calls, b.keys)
	if err != nil {
		log.Fatal(err)
	}
	b.mux.Handle(path+"/", http.StripPrefix(path, v.h))
	return v
}

// tokenVariants are the token handlers compared, the naive flow first.
func (b *bench) tokenVariants() []*variant {
	vs := []*variant{b.naive, b.scoped, b.precreate, b.sharedMem}
	if b.sharedRedis != nil {
		vs = append(vs, b.sharedRedis)
	}
	return vs
}

// closeManagers stops the shared-names Managers' sweepers; Close is
// idempotent.
func (b *bench) closeManagers() {
	for _, v := range []*variant{b.scoped, b.precreate, b.sharedMem, b.sharedRedis, b.scopedRedisBans} {
		if v != nil {
			v.m.Close()
		}
	}
}

func (b *bench) close() {
	b.api.Close()
	b.closeManagers()
	if b.redis != nil {
		b.redis.Close()
	}
}

func roomName(i int) string { return fmt.Sprintf("bench-room-%02d", i) }

// setup creates the rooms the token rows use, under both namings, with an
// empty timeout that outlasts the run (LiveKit closes a room nobody joined
// after 5 minutes by default), then lets each Manager that keeps state
// about them do its first request: the shared-names Managers claim and
// lease them, PrecreateRooms records the owner. The rows then measure
// tokens for existing rooms of the tenant.
func (b *bench) setup(ctx context.Context) {
	for i := range spreadRooms {
		scoped, err := b.scoped.m.LiveKitRoom("acme", roomName(i))
		if err != nil {
			log.Fatal(err)
		}
		for _, name := range []string{scoped, roomName(i)} {
			if _, err := b.admin.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name, EmptyTimeout: 3600}); err != nil {
				log.Fatalf("bench: creating room %s: %v", name, err)
			}
		}
		for _, v := range []*variant{b.precreate, b.sharedMem, b.sharedRedis} {
			if v == nil {
				continue
			}
			if _, err := v.m.Token(ctx, "acme", lkgate.TokenRequest{Room: roomName(i), Identity: "setup"}); err != nil {
				log.Fatalf("bench: %s: first token for %s: %v", v.name, roomName(i), err)
			}
		}
	}
	b.ceilingH.copyResponse(b.post(b.scoped.path+"/livekit/token", tokenBody(roomName(0), 0)))
}

func (b *bench) post(path, body string) *http.Request {
	req, _ := http.NewRequest("POST", b.api.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	return req
}

func (b *bench) get(path string) *http.Request {
	req, _ := http.NewRequest("GET", b.api.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	return req
}

func tokenBody(room string, i int) string {
	return fmt.Sprintf(`{"room_name":%q,"participant_identity":"user-%d"}`, room, i)
}

func (b *bench) tokenRequests(v *variant, room func(int) string) func(int) *http.Request {
	return func(i int) *http.Request { return b.post(v.path+"/livekit/token", tokenBody(room(i), i)) }
}

// run drives the token rows, the HTTP ceiling and the other routes, and
// profiles the scoped 64-room row in a run of its own; then it prints the
// part 1 goals, checked, and what bounds the scoped figure, before the
// table of every row and the ratios lkgate / naive.
func (b *bench) run() {
	ctx := context.Background()
	one := func(int) string { return roomName(0) }
	spread := func(i int) string { return roomName(i % spreadRooms) }

	byName := map[string]result{}
	var results []result
	add := func(r result) result {
		results = append(results, r)
		byName[r.name] = r
		return r
	}
	for _, rooms := range []struct {
		label string
		room  func(int) string
	}{{"one room", one}, {"64 rooms", spread}} {
		for _, v := range b.tokenVariants() {
			add(b.drive("token, "+v.name+", "+rooms.label, v, b.tokenRequests(v, rooms.room)))
			if v == b.scoped && rooms.label == "64 rooms" {
				// Right after the row it bounds, so that the machine's load
				// moves them least apart.
				add(b.drive(ceilingRow, b.ceiling, b.tokenRequests(b.ceiling, spread)))
			}
		}
	}
	if v := b.scopedRedisBans; v != nil {
		add(b.drive("token, "+v.name+", 64 rooms", v, b.tokenRequests(v, spread)))
	}
	governed := add(b.drive("token, governed, 64 rooms", b.governed, b.tokenRequests(b.governed, spread)))
	noQuota := add(b.drive("token, governed without room quota, 64 rooms", b.governedNoQuota, b.tokenRequests(b.governedNoQuota, spread)))
	onServer, err := b.admin.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		log.Fatal(err)
	}
	add(b.drive(fmt.Sprintf("list rooms (%d rooms on the server)", len(onServer.GetRooms())), b.scoped,
		func(int) *http.Request { return b.get("/scoped/livekit/rooms") }))
	add(b.drive("room details", b.scoped, func(i int) *http.Request {
		return b.get("/scoped/livekit/rooms/" + roomName(i%spreadRooms))
	}))
	// The same token rows through the same mux and handlers, called in
	// process: what the token path costs without the HTTP stack that
	// bounds the rows above (lkgate's own LiveKit calls still go over
	// HTTP to livekit-server).
	b.inProcess = true
	for _, v := range b.tokenVariants() {
		add(b.drive("token, "+v.name+", 64 rooms"+inProcessSuffix, v, b.tokenRequests(v, spread)))
	}
	b.inProcess = false
	prof := b.profileRow("token, scoped, 64 rooms, profiled", b.scoped, b.tokenRequests(b.scoped, spread))

	b.printGoals(byName, prof)

	fmt.Println("### Every row")
	fmt.Println()
	fmt.Println("| operation | req/s | p50 | p99 | LiveKit calls/req | lease/ban-store calls/req | allocs/req | CPU/req |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Println(r)
	}
	fmt.Println()
	ratio := func(a, n result) string {
		if a.failedRequest != nil || n.failedRequest != nil {
			return "n/a"
		}
		return fmt.Sprintf("%.2fx", a.rps/n.rps)
	}
	fmt.Println("token throughput, lkgate / naive (one room: concurrent requests may coalesce; 64 rooms: they never do):")
	fmt.Println()
	for _, v := range b.tokenVariants()[1:] {
		fmt.Printf("- %s: %s on one room, %s over 64 rooms\n", v.name,
			ratio(byName["token, "+v.name+", one room"], byName["token, naive, one room"]),
			ratio(byName["token, "+v.name+", 64 rooms"], byName["token, naive, 64 rooms"]))
	}
	fmt.Println()
	scoped := byName["token, scoped, 64 rooms"]
	fmt.Printf("governance over 64 rooms (token rate, JSON audit records, OpenTelemetry metrics): %.0f req/s and %s CPU per request without a room quota, %.0f req/s and %s with one (%.2f LiveKit calls/req), against %.0f req/s and %s for scoped names without either\n",
		noQuota.rps, noQuota.cpuPerReq.Round(time.Microsecond), governed.rps, governed.cpuPerReq.Round(time.Microsecond), governed.callsPerReq,
		scoped.rps, scoped.cpuPerReq.Round(time.Microsecond))
}

func init() {
	log.SetFlags(0)
	log.SetOutput(os.Stderr)
}
