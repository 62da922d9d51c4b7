package main

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/lkgate/lkgate"
)

// model is the synthetic workload: room names over tenants, each name a
// sequence of sessions, and the webhooks LiveKit sends for them.
type model struct {
	rooms, tenants int     // rooms alive at the end; tenants
	zipf           float64 // skew of rooms over tenants (rand.Zipf's s)
	horizon        int     // simulated seconds
	shortShare     float64 // share of sessions with a short lifetime
	shortLife      float64 // mean lifetime of short sessions, seconds
	longLife       float64 // mean lifetime of the others, seconds
	recreate       float64 // chance that a name is re-created after its session ends
	gap            float64 // mean seconds before it is
	loss, dup      float64 // chance that an event is lost; that it is delivered twice
	reorder        float64 // chance that a delivery is delayed
	delay          float64 // mean delay of a delayed delivery, seconds
	seed           uint64
}

// slot is one room name: its tenant and its number among the tenant's.
type slot struct{ tenant, local uint32 }

// session is one room session of a slot, in simulated seconds; end is -1
// while it is alive at the horizon.
type session struct {
	slot       uint32
	start, end int32
}

// delivery is one webhook as it reaches lkgate: at (simulated seconds,
// delays included) of one session's room_started or room_finished.
type delivery struct {
	at       float64
	sess     uint32
	finished bool
}

// stream is the generated workload and what happened to its events.
type stream struct {
	epoch      time.Time // simulated second 0
	horizon    int       // the end, in simulated seconds: every session starts before it
	slots      []slot
	sessions   []session
	deliveries []delivery // in delivery order
	alive      int        // sessions alive at the horizon (== rooms)
	events     int        // events LiveKit sent (before loss and duplication)
	lost       int
	duplicated int
	delayed    int
	inverted   int // sessions whose room_finished came before their room_started
	recreated  int // sessions of a name that had an earlier session
}

// generate draws slots until rooms of them are alive at the horizon.
func (m model) generate(now time.Time) *stream {
	r := rand.New(rand.NewPCG(m.seed, 0x5eed))
	z := rand.NewZipf(r, m.zipf, 1, uint64(m.tenants-1))
	s := &stream{epoch: now.Add(-time.Duration(m.horizon) * time.Second).Truncate(time.Second), horizon: m.horizon}
	perTenant := make([]uint32, m.tenants)
	exp := func(mean float64) int32 { return int32(max(1, math.Round(r.ExpFloat64()*mean))) }
	for s.alive < m.rooms {
		t := uint32(z.Uint64())
		id := uint32(len(s.slots))
		s.slots = append(s.slots, slot{tenant: t, local: perTenant[t]})
		perTenant[t]++
		start := int32(r.IntN(m.horizon))
		for first := true; ; first = false {
			life := m.longLife
			if r.Float64() < m.shortShare {
				life = m.shortLife
			}
			end := start + exp(life)
			if !first {
				s.recreated++
			}
			if int(end) >= m.horizon {
				s.sessions = append(s.sessions, session{slot: id, start: start, end: -1})
				s.alive++
				break
			}
			s.sessions = append(s.sessions, session{slot: id, start: start, end: end})
			if r.Float64() >= m.recreate {
				break
			}
			if start = end + exp(m.gap); int(start) >= m.horizon {
				break
			}
		}
	}
	// Deliveries: each event is lost, or delivered (perhaps late), and
	// perhaps once more, late.
	deliver := func(sess uint32, finished bool, at float64) float64 {
		s.events++
		if r.Float64() < m.loss {
			s.lost++
			return -1
		}
		first := at
		if r.Float64() < m.reorder {
			s.delayed++
			first += r.ExpFloat64() * m.delay
		}
		s.deliveries = append(s.deliveries, delivery{at: first, sess: sess, finished: finished})
		if r.Float64() < m.dup {
			s.duplicated++
			s.deliveries = append(s.deliveries, delivery{at: at + r.ExpFloat64()*m.delay, sess: sess, finished: finished})
		}
		return first
	}
	for i, ss := range s.sessions {
		started := deliver(uint32(i), false, float64(ss.start))
		if ss.end >= 0 {
			if finished := deliver(uint32(i), true, float64(ss.end)); finished >= 0 && started >= 0 && finished < started {
				s.inverted++
			}
		}
	}
	slices.SortStableFunc(s.deliveries, func(a, b delivery) int { return cmp.Compare(a.at, b.at) })
	return s
}

// tenant is the id of tenant t.
func tenantID(t uint32) string { return "tenant-" + strconv.Itoa(int(t)) }

// room is session i as the index sees it: its tenant and IndexedRoom.
func (s *stream) room(i uint32) (string, lkgate.IndexedRoom) {
	ss := s.sessions[i]
	sl := s.slots[ss.slot]
	tenant := tenantID(sl.tenant)
	name, err := lkgate.ScopedRoomName(tenant, "room-"+strconv.Itoa(int(sl.local)))
	if err != nil {
		panic(err) // the ids above are valid
	}
	return tenant, lkgate.IndexedRoom{Name: name, SID: sid(i), Started: s.epoch.Add(time.Duration(ss.start) * time.Second)}
}

// truth is every tenant's rooms alive at the horizon, as a full LiveKit
// list would give them.
func (s *stream) truth() map[string][]lkgate.IndexedRoom {
	out := map[string][]lkgate.IndexedRoom{}
	for i, ss := range s.sessions {
		if ss.end < 0 {
			tenant, r := s.room(uint32(i))
			out[tenant] = append(out[tenant], r)
		}
	}
	return out
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sid is session i's SID, shaped like LiveKit's ("RM_" and 12 base-62
// characters), unique and in no particular order.
func sid(i uint32) string {
	v := (uint64(i) + 1) * 0x9E3779B97F4A7C15 // odd: a bijection on uint64
	b := []byte("RM_000000000000")
	for j := len(b) - 1; j >= 3; j-- {
		b[j] = base62[v%62]
		v /= 62
	}
	return string(b)
}
