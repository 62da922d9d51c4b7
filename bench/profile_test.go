package main

import (
	"testing"

	"github.com/google/pprof/profile"
)

// Each sample counts for its category as the profile summary documents:
// the runtime's own work and the poller by what they are, else the first
// frame from the leaf that is not a helper, net/http by its goroutine.
func TestClassify(t *testing.T) {
	server := []string{"net/http.HandlerFunc.ServeHTTP", "net/http.serverHandler.ServeHTTP", "net/http.(*conn).serve", "runtime.goexit"}
	on := func(frames ...string) []string { return append(frames, server...) }
	for _, c := range []struct {
		stack []string
		want  string
	}{
		{on("crypto/internal/fips140/sha256.blockAVX2", "crypto/internal/fips140/sha256.(*Digest).Write", "crypto/internal/fips140/hmac.(*HMAC).Sum",
			"github.com/lkgate/lkgate.sign", "github.com/lkgate/lkgate.(*Manager).Token"), catSigning},
		{on("encoding/base64.(*Encoding).Encode", "github.com/lkgate/lkgate.sign"), catSigning},
		{on("runtime.mallocgc", "encoding/json.Marshal", "github.com/lkgate/lkgate/httpx.writeJSON"), catJSON},
		{on("runtime.mallocgc", "strings.(*Builder).grow", "strings.(*Builder).WriteString", "github.com/lkgate/lkgate.ScopedRoomName"), catLkgate},
		{on("slices.SortFunc[go.shape.*github.com/lkgate/lkgate.thing]", "github.com/lkgate/lkgate/httpx.(*server).token"), catLkgate},
		{on("internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.write", "internal/poll.(*FD).Write",
			"net.(*conn).Write", "bufio.(*Writer).Flush", "net/http.(*response).finishRequest"), catSys},
		{on("runtime.memmove", "bufio.(*Reader).ReadSlice", "net/textproto.(*Reader).ReadLine", "net/http.readRequest", "net/http.(*conn).readRequest"), catServer},
		{[]string{"runtime.mapaccess1_faststr", "net/http.Header.Get", "net/http.(*persistConn).readLoop", "runtime.goexit"}, catClient},
		{[]string{"runtime.mallocgc", "fmt.Sprintf", "main.tokenBody", "main.(*bench).driveFor.func1", "runtime.goexit"}, catClient},
		{[]string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker", "runtime.goexit"}, catRuntime},
		{on("runtime.scanobject", "runtime.gcDrainN", "runtime.gcAssistAlloc1", "runtime.gcAssistAlloc", "runtime.mallocgc", "encoding/json.Marshal"), catRuntime},
		{[]string{"runtime.futex", "runtime.futexsleep", "runtime.notesleep", "runtime.stopm", "runtime.findRunnable", "runtime.schedule", "runtime.park_m", "runtime.mcall"}, catRuntime},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "runtime.netpoll", "runtime.findRunnable", "runtime.schedule"}, catSys},
		{[]string{"runtime._ExternalCode"}, catRuntime},
		{on("google.golang.org/protobuf/proto.Marshal", "github.com/lkgate/lkgate.(*Manager).Room"), catOther},
	} {
		if got := classify(c.stack); got != c.want {
			t.Errorf("classify(%q) = %q, want %q", c.stack[0], got, c.want)
		}
	}
}

// summarise adds up samples (not stacks) per category, counts those that
// allocate, and ranks leaf functions.
func TestSummarise(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	sha, malloc, marshal, serve := fn(1, "crypto/internal/fips140/sha256.blockAVX2"), fn(2, "runtime.mallocgc"), fn(3, "encoding/json.Marshal"), fn(4, "net/http.(*conn).serve")
	loc := func(id uint64, fns ...*profile.Function) *profile.Location {
		l := &profile.Location{ID: id}
		for _, f := range fns {
			l.Line = append(l.Line, profile.Line{Function: f})
		}
		return l
	}
	p := &profile.Profile{Period: 10_000_000, Sample: []*profile.Sample{
		{Value: []int64{3, 30_000_000}, Location: []*profile.Location{loc(1, sha), loc(4, serve)}},
		// mallocgc inlined into Marshal: one location, two lines.
		{Value: []int64{1, 10_000_000}, Location: []*profile.Location{loc(2, malloc, marshal), loc(4, serve)}},
	}}
	s := summarise(p)
	if s.samples != 4 || s.hz != 100 || s.byCat[catSigning] != 3 || s.byCat[catJSON] != 1 || s.malloc != 1 {
		t.Errorf("summary: %d samples at %d Hz, %v, malloc %d; want 4 at 100 Hz, 3 signing, 1 JSON, malloc 1", s.samples, s.hz, s.byCat, s.malloc)
	}
	if len(s.top) != 2 || s.top[0] != (flat{sha.Name, 3}) || s.top[1] != (flat{malloc.Name, 1}) {
		t.Errorf("top: %v", s.top)
	}
}
