package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// report prints the run as Markdown.
func (r *run) report(w io.Writer, m model, genTime time.Duration, args string) {
	s := r.s
	pct := func(n, of int) string { return fmt.Sprintf("%d (%.2f%%)", n, 100*float64(n)/float64(max(of, 1))) }
	fmt.Fprintf(w, "## Room index simulation: `%s`\n\n", strings.TrimSpace("go run ./bench/indexsim "+args))
	fmt.Fprintf(w, "%s; %s on loopback, started by the simulation; event workers: %d, sweep workers: %d.\n\n", machine(), r.redisVersion, r.workers, r.sweepWorkers)
	fmt.Fprintf(w, "**Workload** (generated in %s): %d rooms alive at the end over %d tenants with rooms (of %d; Zipf s=%.2f), %d room names, %d sessions (%d of them re-creations of a name under a new SID) over %s simulated. "+
		"%d webhooks sent: %s lost, %s delivered twice, %s delayed (mean %s); %d sessions had their room_finished delivered before their room_started.\n\n",
		genTime.Round(time.Millisecond), s.alive, len(r.truth), m.tenants, m.zipf, len(s.slots), len(s.sessions), s.recreated, time.Duration(m.horizon)*time.Second,
		s.events, pct(s.lost, s.events), pct(s.duplicated, s.events), pct(s.delayed, s.events), time.Duration(m.delay*float64(time.Second)), s.inverted)

	p50, p99 := percentiles(r.eventLatency)
	fmt.Fprintf(w, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(w, "| deliveries handled (Started / Finished, one script each) | %d in %s: **%.0f events/s** |\n", len(s.deliveries), r.driveTime.Round(time.Millisecond), float64(len(s.deliveries))/r.driveTime.Seconds())
	fmt.Fprintf(w, "| one event, p50 / p99 (%d workers) | %s / %s |\n", r.workers, fmtDur(p50), fmtDur(p99))
	e := r.before
	fmt.Fprintf(w, "| index error before reconciliation: missing / stale / wrong session | %s / %s / %s of %d rooms |\n", pct(e.missing, s.alive), pct(e.stale, s.alive), pct(e.wrongSession, s.alive), s.alive)
	fmt.Fprintf(w, "| tenants before reconciliation: listed without a live room / live but not listed | %d / %d |\n", e.extraTenants, e.absentTenants)
	fmt.Fprintf(w, "| one reconciliation of every tenant (full list at the end) | %s (%d tenants): added %d, removed %d; slowest tenant %s (%d rooms) |\n",
		r.sweepTime.Round(time.Millisecond), len(r.truth), r.reconciled.Added, r.reconciled.Removed, r.slowestSweep.Round(time.Millisecond), len(r.truth[r.slowestOf]))
	a := r.after
	fmt.Fprintf(w, "| index error after it: missing / stale / wrong session / tenants off | %d / %d / %d / %d |\n", a.missing, a.stale, a.wrongSession, a.extraTenants+a.absentTenants)
	mu := r.memory
	fmt.Fprintf(w, "| Redis memory (used_memory less the empty server's), per room alive | %s: **%.0f bytes/room** |\n", fmtBytes(mu.used), float64(mu.used)/float64(s.alive))
	fmt.Fprintf(w, "| of which rooms' hashes and the tenant set (MEMORY USAGE) | %s: %.0f bytes/room |\n", fmtBytes(mu.roomsBytes+mu.otherKeys), float64(mu.roomsBytes+mu.otherKeys)/float64(max(mu.entries, 1)))
	perRoom := func(k [3]int64) string {
		return fmt.Sprintf("%d tenants, %d rooms, %.0f bytes/room", k[0], k[1], float64(k[2])/float64(max(k[1], 1)))
	}
	fmt.Fprintf(w, "| hashes encoded as listpack / as hash table (hash-max-listpack-entries %s) | %s / %s |\n", mu.listpackMax, perRoom(mu.listpack), perRoom(mu.hashtable))
	fmt.Fprintf(w, "| finished sessions remembered (FinishedMemory; zset-max-listpack-entries %s) | %d in %s: %.0f bytes each |\n", mu.zsetListpackMax, mu.finished, fmtBytes(mu.finishedMem), float64(mu.finishedMem)/float64(max(mu.finished, 1)))
	for _, l := range r.rooms {
		fmt.Fprintf(w, "| Rooms, %s tenant (%d rooms), p50 / p99 of %d calls | %s / %s |\n", l.which, l.rooms, l.calls, fmtDur(l.p50), fmtDur(l.p99))
	}
	fmt.Fprintf(w, "| Tenants (%d tenants) | %s |\n", r.tenantsCount, fmtDur(r.tenantsTime))
	fmt.Fprintln(w)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func fmtBytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}
