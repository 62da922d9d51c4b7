// Package seentest is the contract of lkgate.SeenEvents, which every
// implementation must pass: the in-process store (the root package's
// tests) and redislimit's Store run the same cases.
package seentest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
)

// Run runs every case against a fresh store from newStore, whose clock
// must be the real one: the cases wait for records to expire.
func Run(t *testing.T, newStore func(t *testing.T) lkgate.SeenEvents) {
	cases := []struct {
		name string
		run  func(*testing.T, lkgate.SeenEvents)
	}{
		{"FirstThenDuplicate", firstThenDuplicate},
		{"ForgetMakesItNew", forget},
		{"RememberedUntilUntil", expiry},
		{"DuplicateChangesNothing", duplicateChangesNothing},
		{"EveryIDOfTheWindow", everyID},
		{"ConcurrentOneFirst", concurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

func seen(t *testing.T, s lkgate.SeenEvents, id string, until time.Time) bool {
	t.Helper()
	first, err := s.Seen(context.Background(), id, until)
	if err != nil {
		t.Fatalf("Seen(%s): %v", id, err)
	}
	return first
}

func firstThenDuplicate(t *testing.T, s lkgate.SeenEvents) {
	until := time.Now().Add(time.Hour)
	if !seen(t, s, "EV_a", until) {
		t.Fatal("a new id is a duplicate")
	}
	if seen(t, s, "EV_a", until) {
		t.Error("the same id again is new")
	}
	if !seen(t, s, "EV_b", until) {
		t.Error("another id is a duplicate")
	}
}

func forget(t *testing.T, s lkgate.SeenEvents) {
	until := time.Now().Add(time.Hour)
	seen(t, s, "EV_a", until)
	seen(t, s, "EV_b", until)
	if err := s.Forget(context.Background(), "EV_a"); err != nil {
		t.Fatal(err)
	}
	if !seen(t, s, "EV_a", until) {
		t.Error("a forgotten id is a duplicate")
	}
	if seen(t, s, "EV_b", until) {
		t.Error("Forget of one id forgot another")
	}
	if err := s.Forget(context.Background(), "EV_unknown"); err != nil {
		t.Errorf("Forget of an unknown id: %v", err)
	}
}

// waitNew polls Seen(id) until it reports a new id, and returns when.
func waitNew(t *testing.T, s lkgate.SeenEvents, id string, until time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !seen(t, s, id, until) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still a duplicate 10 s on", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Now()
}

func expiry(t *testing.T, s lkgate.SeenEvents) {
	until := time.Now().Add(300 * time.Millisecond)
	seen(t, s, "EV_a", until)
	if at := waitNew(t, s, "EV_a", time.Now().Add(time.Hour)); at.Before(until) {
		t.Errorf("forgotten at %v, %v before its until", at, until.Sub(at))
	}
}

// A duplicate neither shortens nor stretches the record: the id's until
// is the event's, whichever delivery carries it.
func duplicateChangesNothing(t *testing.T, s lkgate.SeenEvents) {
	until := time.Now().Add(300 * time.Millisecond)
	seen(t, s, "EV_a", until)
	if seen(t, s, "EV_a", time.Now().Add(time.Hour)) {
		t.Fatal("the same id again is new")
	}
	if at := waitNew(t, s, "EV_a", time.Now().Add(time.Hour)); at.Before(until) {
		t.Errorf("forgotten at %v, %v before its until", at, until.Sub(at))
	}
	seen(t, s, "EV_b", time.Now().Add(time.Hour))
	if seen(t, s, "EV_b", time.Now().Add(-time.Second)) {
		t.Error("a duplicate with an until in the past forgot the id")
	}
}

// Every id is remembered for its window, however many arrive: more than
// the 4096 the count-bounded memory this store replaces kept.
func everyID(t *testing.T, s lkgate.SeenEvents) {
	const n = 5000
	until := time.Now().Add(time.Hour)
	for i := range n {
		if !seen(t, s, fmt.Sprint("EV_", i), until) {
			t.Fatalf("id %d of %d is a duplicate", i, n)
		}
	}
	for i := range n {
		if seen(t, s, fmt.Sprint("EV_", i), until) {
			t.Fatalf("id %d was forgotten after %d others", i, n-1)
		}
	}
}

// Replicas receiving one event at once: exactly one handles it.
func concurrent(t *testing.T, s lkgate.SeenEvents) {
	var (
		wg     sync.WaitGroup
		firsts atomic.Int32
	)
	until := time.Now().Add(time.Hour)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := s.Seen(context.Background(), "EV_race", until)
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := firsts.Load(); n != 1 {
		t.Errorf("%d of 16 concurrent deliveries were new, want 1", n)
	}
}
