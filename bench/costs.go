package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"strconv"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// costOp is one operation of the cost table. prep and after run around
// each counted run of op with the timer stopped: neither their time, their
// allocations nor their LiveKit and lease-store calls count.
type costOp struct {
	name  string
	cfg   func(*lkgate.Config)          // adjusts the Manager's Config; nil for none
	setup func(e *costEnv) error        // once per benchmark round; nil for none
	prep  func(e *costEnv, i int) error // before the i-th op; nil for none
	op    func(e *costEnv, i int) error
	after func(e *costEnv, i int) error // after the i-th op; nil for none
}

// costEnv is a Manager on a fake, with what every operation needs: acme's
// room "r" holding alice, who publishes a microphone, a call from room r
// to a phone ("phone"), and two guests waiting in r's lobbies.
type costEnv struct {
	ctx     context.Context
	fake    *lkgatetest.Server
	admin   *lksdk.RoomServiceClient // for clean-ups outside the counts
	m       *lkgate.Manager
	guests  *lkgate.Guests
	sip     *lkgate.SIP
	leases  *countingLeases        // shared names only
	room    string                 // r's LiveKit name
	phone   lkgatetest.Participant // the call's callee, to put back after a transfer
	invite  string                 // an invite to r, AllowAll
	waiting []string               // the waiting guests' identities
	next    string                 // the guest or lobby of the op in progress
	rooms   lkgate.RoomService     // the reference row's client
}

// costLimits are the quotas of the "quotas on" rows, high enough never to
// refuse, so that only their cost shows; the "quotas off" rows turn off
// the guest limits and MaxBans too, which default to on.
func costLimits(on bool) lkgate.Limits {
	if !on {
		return lkgate.Limits{GuestWaitRate: lkgate.Rate{Events: lkgate.NoLimit}, MaxWaitingGuestsPerRoom: lkgate.NoLimit, MaxWaitingGuests: lkgate.NoLimit,
			MaxBans: lkgate.NoLimit}
	}
	generous := lkgate.PerSecond(1<<30, 1<<30)
	return lkgate.Limits{MaxRooms: 1 << 30, TokenRate: generous, SIPCallRate: generous, MaxConcurrentSIPCalls: 1 << 30,
		InviteRate: generous, GuestWaitRate: generous, MaxWaitingGuestsPerRoom: 1 << 30, MaxWaitingGuests: 1 << 30, MaxBans: 1 << 30}
}

func newCostEnv(b *testing.B, naming lkgate.RoomNaming, quotas bool, adjust func(*lkgate.Config)) (*costEnv, error) {
	ctx := context.Background()
	fake := lkgatetest.NewServer(b)
	trunk := fake.AddOutboundTrunk("pbx.example:5060", "+15550000001")
	e := &costEnv{ctx: ctx, fake: fake, admin: lksdk.NewRoomServiceClient(fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)}
	// The ban sweep has a row of its own: no background sweep in a count.
	cfg := lkgate.Config{RoomNames: naming, LeaseSweepInterval: 5 * time.Minute, BanSweepInterval: -1, Limits: lkgate.LimitConfig{Default: costLimits(quotas)}}
	if naming == lkgate.SharedNames {
		e.leases = &countingLeases{store: lkgate.NewMemoryLeaseStore(nil)}
		cfg.Leases = e.leases
	}
	if adjust != nil {
		adjust(&cfg)
	}
	e.m = fake.NewManager(b, cfg)
	if e.leases != nil {
		// The sweeper sweeps once at start: let it, so that no count has it.
		for deadline := time.Now().Add(10 * time.Second); e.leases.sweeps.Load() == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				return nil, errors.New("no lease sweep within 10s")
			}
		}
	}
	g, err := lkgate.NewGuests(e.m, lkgate.GuestConfig{
		Keys:          []lkgate.InviteKey{{ID: "k1", Key: []byte("0123456789abcdef0123456789abcdef")}},
		InviteBaseURL: "https://app.example.com/meet/",
	})
	if err != nil {
		return nil, err
	}
	e.guests = g
	e.sip = fake.NewSIP(b, e.m, lkgate.SIPConfig{Trunks: lkgate.TenantTrunks(map[string]string{"acme": trunk}),
		AllowDestination: func(string, string) bool { return true }})

	if err := e.token("r", "alice"); err != nil {
		return nil, err
	}
	if e.room, err = e.m.LiveKitRoom("acme", "r"); err != nil {
		return nil, err
	}
	mic := lkgatetest.Track{Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO}
	fake.AddParticipant(e.room, lkgatetest.Participant{Identity: "alice", Tracks: []lkgatetest.Track{mic}})
	if err := e.call("phone"); err != nil {
		return nil, err
	}
	phone, ok := fake.Participant(e.room, "phone")
	if !ok {
		return nil, errors.New("the call's participant is not in the room")
	}
	e.phone = lkgatetest.Participant{Identity: phone.Identity, Name: phone.Name, Kind: phone.Kind, Attributes: phone.Attributes}
	inv, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "r", AllowAll: true})
	if err != nil {
		return nil, err
	}
	e.invite = inv.Token
	for range 2 {
		id, err := e.letGuestIn()
		if err != nil {
			return nil, err
		}
		e.waiting = append(e.waiting, id)
	}
	return e, nil
}

func (e *costEnv) token(room, identity string) error {
	_, err := e.m.Token(e.ctx, "acme", lkgate.TokenRequest{Room: room, Identity: identity})
	return err
}

func (e *costEnv) call(identity string) error {
	_, err := e.sip.Call(e.ctx, "acme", lkgate.CallRequest{Room: "r", Identity: identity, To: "+15550100", WaitUntilAnswered: true})
	return err
}

// letGuestIn redeems the invite and joins the guest to its lobby, as its
// client does; it returns the guest's identity.
func (e *costEnv) letGuestIn() (string, error) {
	s, err := e.guests.RoomAuth(e.ctx, e.invite, "Guest")
	if err != nil {
		return "", err
	}
	if _, err := e.fake.Join(s.Token.JWT); err != nil { // direct API: no RPC
		return "", err
	}
	return s.Identity, nil
}

// deleteIfCreated deletes acme's room if LiveKit has it, so that rooms do
// not pile up over a benchmark (a room quota counts them all).
func (e *costEnv) deleteIfCreated(room string) error {
	lk, err := e.m.LiveKitRoom("acme", room)
	if err != nil {
		return err
	}
	if _, ok := e.fake.Room(lk); !ok {
		return nil
	}
	return e.m.DeleteRoom(e.ctx, "acme", room)
}

// addParticipant joins identity to room r directly (no RPC).
func (e *costEnv) addParticipant(identity string) error {
	e.fake.AddParticipant(e.room, lkgatetest.Participant{Identity: identity})
	return nil
}

var costOps = []costOp{
	{name: "Token (existing room)", op: func(e *costEnv, _ int) error { return e.token("r", "alice") }},
	{name: "Token (new room)",
		op:    func(e *costEnv, i int) error { return e.token("new-"+strconv.Itoa(i), "alice") },
		after: func(e *costEnv, i int) error { return e.deleteIfCreated("new-" + strconv.Itoa(i)) }},
	{name: "ListRooms (shared answer kept)",
		cfg:   func(c *lkgate.Config) { c.ListStaleness = lkgate.MaxListStaleness },
		setup: func(e *costEnv) error { _, err := e.m.ListRooms(e.ctx, "acme"); return err },
		op:    func(e *costEnv, _ int) error { _, err := e.m.ListRooms(e.ctx, "acme"); return err }},
	{name: "ListRooms (no shared answer: UnsharedListRooms)",
		cfg: func(c *lkgate.Config) { c.UnsharedListRooms = true },
		op:  func(e *costEnv, _ int) error { _, err := e.m.ListRooms(e.ctx, "acme"); return err }},
	{name: "Room", op: func(e *costEnv, _ int) error { _, err := e.m.Room(e.ctx, "acme", "r"); return err }},
	{name: "RemoveParticipant",
		prep: func(e *costEnv, i int) error { return e.addParticipant("leaver-" + strconv.Itoa(i)) },
		op: func(e *costEnv, i int) error {
			return e.m.RemoveParticipant(e.ctx, "acme", "r", "leaver-"+strconv.Itoa(i))
		}},
	{name: "Ban (participant present)",
		prep: func(e *costEnv, i int) error { return e.addParticipant("banned-" + strconv.Itoa(i)) },
		op: func(e *costEnv, i int) error {
			_, err := e.m.Ban(e.ctx, "acme", "r", "banned-"+strconv.Itoa(i), time.Hour)
			return err
		},
		// Lifted again, so that bans do not pile up (MaxBans counts them).
		after: func(e *costEnv, i int) error { return e.m.Unban(e.ctx, "acme", "r", "banned-"+strconv.Itoa(i)) }},
	{name: "SweepBans (one ban, its identity back in the room)",
		prep: func(e *costEnv, i int) error {
			if _, err := e.m.Ban(e.ctx, "acme", "r", "back-"+strconv.Itoa(i), time.Hour); err != nil {
				return err
			}
			return e.addParticipant("back-" + strconv.Itoa(i))
		},
		op: func(e *costEnv, _ int) error {
			if n, err := e.m.SweepBans(e.ctx); err != nil || n != 1 {
				return fmt.Errorf("the sweep removed %d: %w", n, err)
			}
			return nil
		},
		after: func(e *costEnv, i int) error { return e.m.Unban(e.ctx, "acme", "r", "back-"+strconv.Itoa(i)) }},
	{name: "MuteTrack", op: func(e *costEnv, _ int) error {
		_, err := e.m.MuteTrack(e.ctx, "acme", lkgate.MuteRequest{Room: "r", Identity: "alice", Source: lkgate.SourceMicrophone, Muted: true})
		return err
	}},
	{name: "UpdatePermissions", op: func(e *costEnv, _ int) error {
		_, err := e.m.UpdatePermissions(e.ctx, "acme", "r", "alice", lkgate.ViewerGrant())
		return err
	}},
	{name: "DeleteRoom",
		prep: func(e *costEnv, i int) error {
			room := "gone-" + strconv.Itoa(i)
			if err := e.token(room, "bob"); err != nil {
				return err
			}
			lk, err := e.m.LiveKitRoom("acme", room)
			if err != nil {
				return err
			}
			e.fake.AddParticipant(lk, lkgatetest.Participant{Identity: "bob"})
			return nil
		},
		op: func(e *costEnv, i int) error { return e.m.DeleteRoom(e.ctx, "acme", "gone-"+strconv.Itoa(i)) }},
	{name: "Guests Invite", op: func(e *costEnv, _ int) error {
		_, err := e.guests.Invite(e.ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "r", AllowAll: true})
		return err
	}},
	{name: "Guests RoomAuth",
		op: func(e *costEnv, _ int) error {
			s, err := e.guests.RoomAuth(e.ctx, e.invite, "Guest")
			if err == nil {
				e.next = s.LobbyRoom
			}
			return err
		},
		// Close the lobby, so that lobbies do not pile up (the caps count
		// them). With no cap, room-auth creates none: the guest's join does.
		after: func(e *costEnv, _ int) error {
			if _, ok := e.fake.Room(e.next); !ok {
				return nil
			}
			_, err := e.admin.DeleteRoom(e.ctx, &livekit.DeleteRoomRequest{Room: e.next})
			return err
		}},
	{name: "Guests Admit", op: func(e *costEnv, _ int) error { return e.guests.Admit(e.ctx, "acme", "r", e.waiting[0]) }},
	{name: "Guests Deny",
		prep: func(e *costEnv, _ int) (err error) { e.next, err = e.letGuestIn(); return err },
		op:   func(e *costEnv, _ int) error { return e.guests.Deny(e.ctx, "acme", "r", e.next) }},
	{name: "Guests Waiting (2 guests waiting)", op: func(e *costEnv, _ int) error {
		_, err := e.guests.Waiting(e.ctx, "acme", "r")
		return err
	}},
	{name: "Guests Waiting (2 guests waiting), with a RoomIndex",
		cfg: func(c *lkgate.Config) { c.RoomIndex, c.RoomIndexReconcile = lkgate.NewMemoryRoomIndex(nil), -1 },
		op: func(e *costEnv, _ int) error {
			_, err := e.guests.Waiting(e.ctx, "acme", "r")
			return err
		}},
	{name: "SIP Call (into the tenant's room)",
		op: func(e *costEnv, i int) error { return e.call("phone-" + strconv.Itoa(i)) },
		// The callee hangs up: the call's slot (quotas on) is released as
		// its participant_left webhook releases it.
		after: func(e *costEnv, i int) error {
			p, ok := e.fake.Participant(e.room, "phone-"+strconv.Itoa(i))
			if !ok {
				return errors.New("the call's participant is not in the room")
			}
			if _, err := e.admin.RemoveParticipant(e.ctx, &livekit.RoomParticipantIdentity{Room: e.room, Identity: p.Identity}); err != nil {
				return err
			}
			return e.sip.ReleaseCall(e.ctx, &livekit.WebhookEvent{Event: "participant_left", Room: &livekit.Room{Name: e.room}, Participant: p})
		}},
	{name: "SIP Transfer",
		// A completed transfer ends the call: put the caller back.
		prep: func(e *costEnv, _ int) error { e.fake.AddParticipant(e.room, e.phone); return nil },
		op: func(e *costEnv, _ int) error {
			_, err := e.sip.Transfer(e.ctx, "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "+15550101"})
			return err
		}},
}

// roundTrip is the reference row: one LiveKit call (ListRooms by name)
// through lkgate's own client of LiveKit, with no lkgate around it, to the
// same fake: what a call costs of each row's time and allocations.
var roundTrip = costOp{
	name: "reference: one LiveKit call (ListRooms by name, NewRoomService), no lkgate",
	setup: func(e *costEnv) error {
		e.rooms = lkgate.NewRoomService(e.fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret)
		return nil
	},
	op: func(e *costEnv, _ int) error {
		_, err := e.rooms.ListRooms(e.ctx, &livekit.ListRoomsRequest{Names: []string{e.room}})
		return err
	},
}

// costResult is one row of the cost table.
type costResult struct {
	op, naming, quotas string
	calls, store       float64
	countsStore        bool
	allocs             int64
	perOp              time.Duration
	err                error
}

// measureCost runs op with testing.Benchmark in a fresh environment per
// round; the figures are the last round's.
func measureCost(op costOp, naming lkgate.RoomNaming, quotas bool) costResult {
	var calls, store int64
	var n int
	var failure error
	res := testing.Benchmark(func(b *testing.B) {
		fail := func(err error) {
			if failure == nil {
				failure = err
			}
			b.FailNow()
		}
		e, err := newCostEnv(b, naming, quotas, op.cfg)
		if err != nil {
			fail(fmt.Errorf("setting up: %w", err))
		}
		if op.setup != nil {
			if err := op.setup(e); err != nil {
				fail(fmt.Errorf("setting up: %w", err))
			}
		}
		storeCalls := func() int64 {
			if e.leases == nil {
				return 0
			}
			return e.leases.calls.Load()
		}
		split := op.prep != nil || op.after != nil
		var c, s int64
		b.ResetTimer()
		c0, s0 := e.fake.TotalCalls(), storeCalls()
		for i := range b.N {
			if split {
				b.StopTimer()
				if op.prep != nil {
					if err := op.prep(e, i); err != nil {
						fail(fmt.Errorf("before the operation: %w", err))
					}
				}
				c0, s0 = e.fake.TotalCalls(), storeCalls()
				b.StartTimer()
			}
			if err := op.op(e, i); err != nil {
				fail(err)
			}
			if split {
				b.StopTimer()
				c += int64(e.fake.TotalCalls() - c0)
				s += storeCalls() - s0
				if op.after != nil {
					if err := op.after(e, i); err != nil {
						fail(fmt.Errorf("after the operation: %w", err))
					}
				}
				b.StartTimer()
			}
		}
		if !split {
			c, s = int64(e.fake.TotalCalls()-c0), storeCalls()-s0
		}
		b.StopTimer()
		calls, store, n = c, s, b.N
	})
	r := costResult{op: op.name, naming: namingName(naming), quotas: "off", err: failure}
	if quotas {
		r.quotas = "on"
	}
	if failure == nil && (res.N == 0 || n == 0) {
		r.err = errors.New("the benchmark did not run")
	}
	if r.err != nil {
		return r
	}
	r.calls, r.store = float64(calls)/float64(n), float64(store)/float64(n)
	r.countsStore = naming == lkgate.SharedNames
	r.allocs, r.perOp = res.AllocsPerOp(), time.Duration(res.NsPerOp())
	return r
}

func namingName(n lkgate.RoomNaming) string {
	if n == lkgate.SharedNames {
		return "shared"
	}
	return "scoped"
}

func (r costResult) String() string {
	if r.err != nil {
		return fmt.Sprintf("| %s | %s | %s | failed: %v | | | |", r.op, r.naming, r.quotas, r.err)
	}
	store := ""
	if r.countsStore {
		store = fmt.Sprintf("%.2f", r.store)
	}
	return fmt.Sprintf("| %s | %s | %s | %.2f | %s | %d | %s |", r.op, r.naming, r.quotas, r.calls, store, r.allocs, micros(r.perOp))
}

// micros prints a duration in microseconds with three significant digits
// or more.
func micros(d time.Duration) string {
	f := float64(d) / float64(time.Microsecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f µs", f)
	case f < 100:
		return fmt.Sprintf("%.1f µs", f)
	case f < 10000:
		return fmt.Sprintf("%.0f µs", f)
	}
	return ms(d)
}

// costTable prints the cost of every operation, in process against
// lkgatetest's fake (real twirp over loopback), under both namings, with
// quotas off and on; each operation runs for benchtime.
func costTable(benchtime time.Duration) {
	// testing.Benchmark takes its benchtime from the testing flags.
	testing.Init()
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		log.Fatalf("bench: -costtime: %v", err)
	}
	fmt.Println()
	fmt.Println("### The cost of every operation (in process, against lkgatetest's fake)")
	fmt.Println()
	fmt.Printf("Each operation runs on one goroutine with testing.Benchmark for %s against lkgatetest's fake: LiveKit's twirp API over loopback, in this process. Time and allocations per operation therefore include the fake's own work (its HTTP server, twirp decoding and answer; the reference row is one call's worth); LiveKit and lease-store calls are exact. The setup (rooms, participants, guests waiting, the call being transferred) and the clean-up after each operation (rooms and lobbies it created, the call's slot) are outside every figure. Quotas on: MaxRooms, every rate (token, SIP call, invite, guest wait), MaxConcurrentSIPCalls, the guest caps and MaxBans, all too high to refuse; off: none, the guest limits and MaxBans (on by default) turned off. The server holds acme's room r with alice publishing a microphone, a call into r, and two guests waiting in r's lobbies.\n\n", benchtime)
	fmt.Println("| operation | naming | quotas | LiveKit calls/op | lease-store calls/op | allocs/op | time/op |")
	fmt.Println("|---|---|---|---|---|---|---|")
	ref := measureCost(roundTrip, lkgate.ScopedNames, false)
	ref.naming, ref.quotas = "—", "—"
	fmt.Println(ref)
	for _, op := range costOps {
		for _, naming := range []lkgate.RoomNaming{lkgate.ScopedNames, lkgate.SharedNames} {
			for _, quotas := range []bool{false, true} {
				log.Printf("bench: cost of %s, %s names, quotas %v", op.name, namingName(naming), quotas)
				fmt.Println(measureCost(op, naming, quotas))
			}
		}
	}
}
