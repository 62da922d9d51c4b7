package main

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// The categories of the CPU profile summary, in the order they print.
const (
	catSigning = "signing (crypto/*, encoding/base64, golang-jwt)"
	catJSON    = "JSON (encoding/json)"
	catLkgate  = "lkgate and httpx's own code"
	catServer  = "HTTP server (net/http)"
	catClient  = "HTTP client and load generator"
	catSys     = "syscalls and network (syscall, internal/poll, net, netpoll)"
	catRuntime = "runtime (GC, scheduler)"
	catOther   = "other"
)

var categories = []string{catSigning, catJSON, catLkgate, catServer, catClient, catSys, catRuntime, catOther}

// profileSummary is a CPU profile of one driven row, by category.
type profileSummary struct {
	row     result
	err     error // the profile could not be taken or parsed
	samples int64
	hz      int64
	byCat   map[string]int64
	malloc  int64 // samples with runtime.mallocgc on the stack, in whichever category
	top     []flat
}

// flat is a function's samples as the leaf of the stack.
type flat struct {
	fn      string
	samples int64
}

// minProfile is the shortest profiled run: runtime/pprof samples at 100 Hz,
// so two busy cores give about 200 samples a second.
const minProfile = 5 * time.Second

// profileRow drives a row once more, under a CPU profile of the whole
// process written into memory (runtime/pprof), and sums its samples by
// category. It is a run of its own, of at least minProfile, so that the
// profiler's cost stays out of the table's row.
func (b *bench) profileRow(name string, v *variant, do func(int) *http.Request) profileSummary {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return profileSummary{err: err}
	}
	row := b.driveFor(max(b.duration, minProfile), name, v, do)
	pprof.StopCPUProfile()
	p, err := profile.Parse(&buf)
	if err != nil {
		return profileSummary{row: row, err: err}
	}
	s := summarise(p)
	s.row = row
	return s
}

// summarise sums p's samples by category (see classify), counts those
// that allocate, and ranks the leaf functions.
func summarise(p *profile.Profile) profileSummary {
	s := profileSummary{byCat: map[string]int64{}, hz: 1}
	if p.Period > 0 {
		s.hz = 1e9 / p.Period // the period is in nanoseconds of CPU
	}
	leaves := map[string]int64{}
	for _, sample := range p.Sample {
		n := sample.Value[0] // samples; [1] is CPU nanoseconds
		var stack []string   // leaf first, inlined frames expanded
		for _, loc := range sample.Location {
			for _, line := range loc.Line {
				if line.Function != nil {
					stack = append(stack, line.Function.Name)
				}
			}
		}
		if len(stack) == 0 {
			stack = []string{"(unknown)"}
		}
		s.samples += n
		s.byCat[classify(stack)] += n
		if slices.Contains(stack, "runtime.mallocgc") {
			s.malloc += n
		}
		leaves[stack[0]] += n
	}
	for fn, n := range leaves {
		s.top = append(s.top, flat{fn, n})
	}
	slices.SortFunc(s.top, func(a, b flat) int { return cmp.Or(cmp.Compare(b.samples, a.samples), strings.Compare(a.fn, b.fn)) })
	return s
}

// classify names the category of one sample's stack, leaf first. Work the
// runtime does on its own (GC marking, sweeping and assists, the
// scheduler) is runtime's; waiting on the network poller is the network's.
// Otherwise the first frame from the leaf that is not a general-purpose
// helper decides: the runtime's allocation, maps and memmove, and the
// standard library's strings, bufio, sync, fmt and the like, count for the
// code that called them. net/http counts for the server or the client by
// the goroutine it runs on.
func classify(stack []string) string {
	server, client, runtimeOnly := false, false, true
	for _, fn := range stack {
		pkg := pkgOf(fn)
		switch {
		case gcWork(fn):
			return catRuntime
		case strings.HasPrefix(fn, "runtime.netpoll"):
			return catSys
		}
		runtimeOnly = runtimeOnly && isRuntime(pkg)
		server = server || strings.HasPrefix(fn, "net/http.(*conn).") || strings.HasPrefix(fn, "net/http.(*connReader).")
		client = client || pkg == "main" || strings.HasPrefix(fn, "net/http.(*persistConn).") ||
			strings.HasPrefix(fn, "net/http.(*Transport).") || strings.HasPrefix(fn, "net/http.(*Client).")
	}
	if runtimeOnly {
		return catRuntime
	}
	for _, fn := range stack {
		pkg := pkgOf(fn)
		switch {
		case strings.HasPrefix(pkg, "crypto/") || pkg == "encoding/base64" || strings.HasPrefix(pkg, "github.com/golang-jwt/jwt"):
			return catSigning
		case pkg == "encoding/json" || strings.HasPrefix(pkg, "encoding/json/"):
			return catJSON
		case isSyscall(pkg):
			return catSys
		case pkg == "github.com/lkgate/lkgate" || strings.HasPrefix(pkg, "github.com/lkgate/lkgate/"):
			return catLkgate
		case pkg == "main":
			return catClient
		case isHTTP(pkg) && server:
			return catServer
		case isHTTP(pkg) && client:
			return catClient
		case isHTTP(pkg):
			return catOther
		case isStd(pkg):
			continue // a helper: its caller decides
		default:
			return catOther
		}
	}
	return catOther
}

// gcWork reports whether fn is the garbage collector's: marking,
// sweeping, scavenging, assists and write barriers.
func gcWork(fn string) bool {
	for _, p := range []string{"runtime.gc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.markroot", "runtime.scanobject",
		"runtime.greyobject", "runtime.(*gcWork)", "runtime.wbBufFlush", "runtime.deductSweepCredit", "runtime.(*sweepLocked)",
		"runtime.sweepone", "runtime._GC", "runtime.GC"} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// pkgOf returns the import path of a function's package, from its symbol
// name ("net/http.(*conn).serve" → "net/http").
func pkgOf(fn string) string {
	if i := strings.IndexByte(fn, '['); i >= 0 { // type arguments may hold paths
		fn = fn[:i]
	}
	slash := strings.LastIndexByte(fn, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}

func isRuntime(pkg string) bool {
	return pkg == "runtime" || strings.HasPrefix(pkg, "runtime/") || strings.HasPrefix(pkg, "internal/") && !isSyscall(pkg)
}

func isSyscall(pkg string) bool {
	switch pkg {
	case "syscall", "internal/poll", "net", "os", "golang.org/x/sys/unix":
		return true
	}
	return strings.HasPrefix(pkg, "internal/syscall/") || strings.HasPrefix(pkg, "internal/runtime/syscall") ||
		strings.HasPrefix(pkg, "runtime/internal/syscall")
}

func isHTTP(pkg string) bool {
	return pkg == "net/http" || strings.HasPrefix(pkg, "net/http/") || pkg == "net/textproto" || pkg == "net/url" || pkg == "mime"
}

// isStd reports whether pkg is the standard library's (its first element
// has no dot), vendored packages included.
func isStd(pkg string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	return !strings.Contains(first, ".")
}

// print writes the summary as a markdown table.
func (s profileSummary) print() {
	if s.err != nil {
		fmt.Printf("CPU profile: not taken (%v)\n\n", s.err)
		return
	}
	if s.samples == 0 {
		fmt.Println("CPU profile: no samples")
		fmt.Println()
		return
	}
	pct := func(n int64) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(s.samples)) }
	fmt.Printf("CPU profile of `%s` in a run of its own (%.0f req/s under the profiler), the whole process (lkgate, HTTP server, load generator; livekit-server and redis-server are other processes): %d samples at %d Hz.\n\n",
		s.row.name, s.row.rps, s.samples, s.hz)
	fmt.Println("| category | share of samples |")
	fmt.Println("|---|---|")
	largest := categories[0]
	for _, c := range categories {
		fmt.Printf("| %s | %s |\n", c, pct(s.byCat[c]))
		if s.byCat[c] > s.byCat[largest] {
			largest = c
		}
	}
	fmt.Println()
	fmt.Printf("The largest share: %s, %s.\n\n", largest, pct(s.byCat[largest]))
	fmt.Printf("A sample counts for the first frame from the leaf that is not a general-purpose helper (runtime allocation, maps and memmove; strings, bufio, sync, fmt and the like count for their caller); encoding/json is JSON wherever it is called, the token claims' encoding included. Memory allocation (`runtime.mallocgc` on the stack, in whichever category): %s.\n\n", pct(s.malloc))
	fmt.Print("Top leaf functions: ")
	for i, f := range s.top[:min(len(s.top), 8)] {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("`%s` %s", f.fn, pct(f.samples))
	}
	fmt.Println()
	fmt.Println()
}
