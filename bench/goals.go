package main

import (
	"errors"
	"fmt"
	"time"
)

// The goals of issue 18, part 1, for scoped names over 64 rooms against
// the 1-call paths (one LiveKit round trip per token) and the naive flow,
// measured in the same run.
const (
	goalVsOneCall = 5.0  // throughput, at least this many times the 1-call paths'
	goalVsNaive   = 15.0 // throughput, at least this many times the naive flow's
	goalAllocs    = 0.5  // allocations per request, at most this share of the 1-call paths'
	goalP99       = 0.2  // p99 latency, at most this share of the 1-call paths'
)

// printGoals prints the part 1 goals, each with its measured value, the
// row it is measured against, the ratio and whether it is met; then what
// bounds the scoped figure: the HTTP ceiling and the CPU profile.
func (b *bench) printGoals(byName map[string]result, prof profileSummary) {
	b.goalsTable(byName, "")
	b.bounds(byName, prof)
	fmt.Println("The same goals with the token rows called in process (`, in process` rows): the same requests through the same mux and handlers, without the socket, the HTTP server and the client's connection handling; lkgate's own LiveKit calls still go to livekit-server over HTTP.")
	fmt.Println()
	b.goalsTable(byName, inProcessSuffix)
}

// inProcessSuffix names the rows driven in process.
const inProcessSuffix = ", in process"

// goalsTable prints the goals for the token rows over 64 rooms whose names
// end in suffix.
func (b *bench) goalsTable(byName map[string]result, suffix string) {
	at64 := func(mode string) result { return byName["token, "+mode+", 64 rooms"+suffix] }
	scoped := at64("scoped")
	naive := at64("naive")
	oneCall := []string{"scoped+precreate", "shared, memory leases"}

	if suffix == "" {
		fmt.Println("### Goals: a scoped token at the cost of a signature (issue 18, part 1)")
		fmt.Println()
		fmt.Printf("`token, scoped, 64 rooms` (no LiveKit call) against the 1-call paths over 64 rooms (`scoped+precreate` and `shared, memory leases`: one LiveKit round trip per token) and the naive flow (4), in the same run, %d concurrent clients.\n\n", b.workers)
	}
	// In process there is no HTTP stack, so no ceiling to compare with.
	ceiling := result{failedRequest: errNoCeiling}
	if suffix == "" {
		ceiling = byName[ceilingRow]
	}
	withCeiling := ceiling.failedRequest == nil
	if withCeiling {
		fmt.Println("| goal | scoped | against | ratio | target | | the HTTP ceiling's ratio |")
		fmt.Println("|---|---|---|---|---|---|---|")
	} else {
		fmt.Println("| goal | scoped | against | ratio | target | |")
		fmt.Println("|---|---|---|---|---|---|")
	}
	// The last column is the same ratio for the HTTP ceiling (no lkgate at
	// all): where it misses the target too, no token path can meet it here.
	row := func(goal string, a, ref result, value func(result) float64, unit func(float64) string, target string, met func(float64) bool) {
		if a.failedRequest != nil || ref.failedRequest != nil || value(ref) == 0 {
			fmt.Printf("| %s | n/a | n/a | n/a | %s | not measured | |\n", goal, target)
			return
		}
		r := value(a) / value(ref)
		verdict := "not met"
		if met(r) {
			verdict = "met"
		}
		if !withCeiling {
			fmt.Printf("| %s | %s | %s | %.2fx | %s | %s |\n", goal, unit(value(a)), unit(value(ref)), r, target, verdict)
			return
		}
		bound := "n/a"
		if ceiling.requests > 0 {
			bound = fmt.Sprintf("%.2fx", value(ceiling)/value(ref))
		}
		fmt.Printf("| %s | %s | %s | %.2fx | %s | %s | %s |\n", goal, unit(value(a)), unit(value(ref)), r, target, verdict, bound)
	}
	rps := func(r result) float64 { return r.rps }
	allocs := func(r result) float64 { return r.allocsPerReq }
	p99 := func(r result) float64 { return float64(r.p99) }
	perSec := func(f float64) string { return fmt.Sprintf("%.0f req/s", f) }
	count := func(f float64) string { return fmt.Sprintf("%.0f allocs", f) }
	latency := func(f float64) string { return ms(time.Duration(f)) }
	for _, mode := range oneCall {
		row("throughput vs "+mode, scoped, at64(mode), rps, perSec, fmt.Sprintf("≥ %.0fx", goalVsOneCall), func(r float64) bool { return r >= goalVsOneCall })
	}
	row("throughput vs naive", scoped, naive, rps, perSec, fmt.Sprintf("≥ %.0fx", goalVsNaive), func(r float64) bool { return r >= goalVsNaive })
	for _, mode := range oneCall {
		row("allocs/req vs "+mode, scoped, at64(mode), allocs, count, fmt.Sprintf("≤ %.1fx", goalAllocs), func(r float64) bool { return r <= goalAllocs })
	}
	for _, mode := range oneCall {
		row("p99 vs "+mode, scoped, at64(mode), p99, latency, fmt.Sprintf("≤ %.1fx", goalP99), func(r float64) bool { return r <= goalP99 })
	}
	fmt.Println()
}

// errNoCeiling marks a goals table without an HTTP ceiling row.
var errNoCeiling = errors.New("no HTTP ceiling")

// bounds prints what bounds the scoped token over loopback HTTP: the HTTP
// ceiling and the CPU profile.
func (b *bench) bounds(byName map[string]result, prof profileSummary) {
	scoped, ceiling := byName["token, scoped, 64 rooms"], byName[ceilingRow]
	if scoped.failedRequest == nil && ceiling.failedRequest == nil && ceiling.rps > 0 {
		fmt.Printf("**What bounds it.** The HTTP ceiling, the same requests from the same client through the same server answered with a scoped token response's bytes and no lkgate, makes %.0f req/s (p99 %s, %s CPU and %.0f allocs per request). lkgate's scoped token is %.0f%% of that ceiling; per request it adds %s (%s against %s) and %.0f allocations (%.0f against %.0f) to what the HTTP client, server and loopback cost.\n\n",
			ceiling.rps, ms(ceiling.p99), ceiling.cpuPerReq.Round(time.Microsecond), ceiling.allocsPerReq,
			100*scoped.rps/ceiling.rps, cpuMore(scoped.cpuPerReq-ceiling.cpuPerReq),
			scoped.cpuPerReq.Round(time.Microsecond), ceiling.cpuPerReq.Round(time.Microsecond),
			scoped.allocsPerReq-ceiling.allocsPerReq, scoped.allocsPerReq, ceiling.allocsPerReq)
		// A few percent either way is the run's noise: at the ceiling.
		if scoped.rps > 1.05*ceiling.rps {
			fmt.Printf("(Above 100%%: the machine's load changed between the two rows; the figures are not comparable in this run.)\n\n")
		}
	}
	prof.print()
}

// cpuMore says how much more CPU a request took; the run's noise can make
// it negative.
func cpuMore(d time.Duration) string {
	if d <= 0 {
		return "no measurable CPU"
	}
	return d.Round(time.Microsecond).String() + " of CPU"
}
