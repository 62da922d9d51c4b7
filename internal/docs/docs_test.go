package docs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"go.yaml.in/yaml/v3"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// root is the repository, from this package's directory.
const root = "../.."

// line is one line of a doc; every failure names it.
type line struct {
	doc  string
	n    int
	text string
}

func (l line) String() string { return fmt.Sprintf("%s:%d", l.doc, l.n) }

// docLines returns the lines of every doc that states claims: README.md,
// docs/*.md, and the comment lines of the package docs.
func docLines(t *testing.T) []line {
	t.Helper()
	md, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs := append([]string{filepath.Join(root, "README.md")}, md...)
	docs = append(docs, filepath.Join(root, "doc.go"), filepath.Join(root, "httpx", "doc.go"))
	var lines []line
	for _, p := range docs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		for i, text := range strings.Split(string(b), "\n") {
			if strings.HasSuffix(p, ".go") {
				if !strings.HasPrefix(text, "//") {
					continue
				}
				text = strings.TrimPrefix(text, "//")
			}
			lines = append(lines, line{doc: filepath.ToSlash(rel), n: i + 1, text: text})
		}
	}
	return lines
}

// goFiles calls fn with the path (from root) and text of every Go file
// under dir, outside testdata and node_modules, whose name passes keep.
func goFiles(t *testing.T, dir string, keep func(name string) bool, fn func(path, text string)) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "node_modules", ".git", ".bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || !keep(d.Name()) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fn(filepath.ToSlash(rel), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func isTest(name string) bool  { return strings.HasSuffix(name, "_test.go") }
func notTest(name string) bool { return !isTest(name) }

var (
	citedTest    = regexp.MustCompile(`\b((?:Test|Fuzz|Benchmark|Example)[A-Z][A-Za-z0-9_]*)`)
	declaredTest = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]*)\(`)
)

// Every test, fuzz target, benchmark or example a doc names is declared in
// some _test.go file of the repository, so a renamed proof fails here.
func TestDocsCiteTestsThatExist(t *testing.T) {
	declared := map[string]bool{}
	goFiles(t, ".", isTest, func(_, text string) {
		for _, m := range declaredTest.FindAllStringSubmatch(text, -1) {
			declared[m[1]] = true
		}
	})
	cited := 0
	for _, l := range docLines(t) {
		for _, m := range citedTest.FindAllStringSubmatch(l.text, -1) {
			cited++
			if !declared[m[1]] {
				t.Errorf("%s: cites %s, which no _test.go file declares", l, m[1])
			}
		}
	}
	if cited == 0 {
		t.Error("the docs cite no test: the pattern no longer reads them")
	}
	t.Logf("%d citations of %d declared tests", cited, len(declared))
}

// openAPI is what this test reads of httpx/openapi.yaml: the status codes
// of each method of each path.
type openAPI struct {
	Paths map[string]map[string]struct {
		Responses map[string]any `yaml:"responses"`
	} `yaml:"paths"`
}

// statuses returns the status codes openapi.yaml gives method path, and
// whether it has the operation at all.
func (o openAPI) statuses(method, path string) ([]string, bool) {
	for p, ops := range o.Paths {
		if wildcards(p) != wildcards(path) {
			continue
		}
		op, ok := ops[strings.ToLower(method)]
		if !ok {
			return nil, false
		}
		var codes []string
		for c := range op.Responses {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		return codes, true
	}
	return nil, false
}

func readOpenAPI(t *testing.T) openAPI {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "httpx", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var o openAPI
	if err := yaml.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Paths) == 0 {
		t.Fatal("openapi.yaml has no paths")
	}
	return o
}

var (
	wildcard = regexp.MustCompile(`\{[^}]*\}`)
	// A route as the docs state it: a method and a path, not inside a Go
	// string (a pattern of the reader's own mux in an example).
	routeClaim = regexp.MustCompile(`(?:^|[^"\w])(GET|POST|DELETE|PUT|PATCH) (/[A-Za-z0-9_.{}/$-]*)`)
	// A pattern registered on a ServeMux: httpx's route patterns and
	// literal HandleFunc patterns, the example server's mux.Handle and
	// mux.HandleFunc.
	httpxRoute   = regexp.MustCompile(`(?:pattern: |HandleFunc\()"([A-Z]+) ([^"]+)"`)
	serverRoute  = regexp.MustCompile(`"(GET|POST|DELETE|PUT|PATCH) (/[^"]*)"`)
	statusInText = regexp.MustCompile(`(?:^|[^\w.:/+-])([1-5][0-9][0-9])(?:$|[^\w%])`)
)

// wildcards names every wildcard alike; ServeMux's {$} (the end of the
// path) stays.
func wildcards(path string) string {
	return wildcard.ReplaceAllStringFunc(path, func(w string) string {
		if w == "{$}" {
			return w
		}
		return "{}"
	})
}

// serves reports whether the patterns in mux serve key ("METHOD path"): a
// pattern equal to it, the same ending in {$}, or a subtree ending in /.
func serves(mux map[string]bool, key string) bool {
	if mux[key] || mux[key+"{$}"] {
		return true
	}
	for p := range mux {
		if strings.HasSuffix(p, "/") && strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// routeOf returns a route claim's method and path as httpx serves it: the
// example server's prefix /api/v1 taken off, a trailing full stop or colon
// of the sentence too.
func routeOf(method, path string) (string, string) {
	path = strings.TrimRight(path, ".:")
	if rest, ok := strings.CutPrefix(path, "/api/v1"); ok && strings.HasPrefix(rest, "/") {
		path = rest
	}
	return method, path
}

// isHTTPXPath reports whether path is in httpx's namespace.
func isHTTPXPath(path string) bool {
	return strings.HasPrefix(path, "/livekit/") || strings.HasPrefix(path, "/sip/") || path == "/openapi.yaml"
}

// routes returns the routes the handler registers, as "METHOD path" with
// wildcards normalised, read from the sources under dir with re.
func routes(t *testing.T, dir string, re *regexp.Regexp) map[string]bool {
	got := map[string]bool{}
	goFiles(t, dir, notTest, func(_, text string) {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			got[m[1]+" "+wildcards(m[2])] = true
		}
	})
	if len(got) == 0 {
		t.Fatalf("no routes read from %s", dir)
	}
	return got
}

// Every route a doc states is served: httpx's by httpx's mux and described
// by openapi.yaml, the others by the example server.
func TestDocsRoutesExist(t *testing.T) {
	api := readOpenAPI(t)
	httpxRoutes := routes(t, "httpx", httpxRoute)
	serverRoutes := routes(t, "examples/server", serverRoute)
	n := 0
	for _, l := range docLines(t) {
		for _, m := range routeClaim.FindAllStringSubmatch(l.text, -1) {
			n++
			method, path := routeOf(m[1], m[2])
			key := method + " " + wildcards(path)
			if !isHTTPXPath(path) {
				if !serves(serverRoutes, key) {
					t.Errorf("%s: states %s %s, which neither httpx nor the example server serves", l, m[1], m[2])
				}
				continue
			}
			if !httpxRoutes[key] && !httpxRoutes[key+"{$}"] {
				t.Errorf("%s: states %s %s, which httpx's mux does not register", l, m[1], m[2])
			}
			if _, ok := api.statuses(method, path); !ok {
				t.Errorf("%s: states %s %s, which httpx/openapi.yaml does not describe", l, m[1], m[2])
			}
		}
	}
	if n == 0 {
		t.Error("the docs state no route: the pattern no longer reads them")
	}
	t.Logf("%d route claims", n)
}

// Every status code a doc gives a route is one openapi.yaml says the route
// answers: in README's route table (the answer column of the route's row)
// and in any sentence that names exactly one of httpx's routes.
func TestDocsStatusCodesAreTheRoutes(t *testing.T) {
	api := readOpenAPI(t)
	check := func(l line, method, path, text string) {
		codes, ok := api.statuses(method, path)
		if !ok {
			return // TestDocsRoutesExist reports it
		}
		for _, m := range statusInText.FindAllStringSubmatch(text, -1) {
			if !slices.Contains(codes, m[1]) {
				t.Errorf("%s: gives %s %s the status %s, which openapi.yaml does not list for it (it lists %s): %q",
					l, method, path, m[1], strings.Join(codes, ", "), strings.TrimSpace(text))
			}
		}
	}
	rows, sentences := 0, 0
	for _, l := range docLines(t) {
		if cells := tableCells(l.text); len(cells) >= 2 {
			if m := routeClaim.FindStringSubmatch(cells[0]); m != nil {
				if method, path := routeOf(m[1], m[2]); isHTTPXPath(path) {
					rows++
					check(l, method, path, cells[len(cells)-1])
				}
			}
			continue
		}
		for _, sentence := range sentenceEnd.Split(l.text, -1) {
			var claims [][]string
			for _, m := range routeClaim.FindAllStringSubmatch(sentence, -1) {
				if _, path := routeOf(m[1], m[2]); isHTTPXPath(path) {
					claims = append(claims, m)
				}
			}
			if len(claims) == 1 {
				sentences++
				method, path := routeOf(claims[0][1], claims[0][2])
				// The route's own path and numbers inside code spans
				// (sizes, identifiers) are not statuses.
				check(l, method, path, codeSpan.ReplaceAllString(strings.Replace(sentence, claims[0][0], "", 1), ""))
			}
		}
	}
	if rows == 0 {
		t.Error("found no row of README's route table")
	}
	t.Logf("%d rows of the route table, %d sentences naming one route", rows, sentences)
}

var (
	sentenceEnd = regexp.MustCompile(`[.;]\s+`)
	codeSpan    = regexp.MustCompile("`[^`]*`")
)

// tableCells returns the cells of a Markdown table row, or nil.
func tableCells(s string) []string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "|") || !strings.HasSuffix(s, "|") {
		return nil
	}
	cells := strings.Split(s[1:len(s)-1], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

var (
	envVar      = regexp.MustCompile(`\b((?:LKGATE|LIVEKIT)_[A-Z0-9_]*[A-Z0-9])\b`)
	envLiteral  = regexp.MustCompile(`"((?:LKGATE|LIVEKIT)_[A-Z0-9_]*[A-Z0-9])"`)
	envInScript = regexp.MustCompile(`\$\{?((?:LKGATE|LIVEKIT)_[A-Z0-9_]*[A-Z0-9])`)
)

// Every environment variable a doc names is read by the example server
// (or by the script the doc sends the reader to), and every variable the
// example server reads is in README and in its package doc.
func TestDocsEnvironmentVariables(t *testing.T) {
	server := map[string]bool{}
	serverDoc := ""
	goFiles(t, "examples/server", notTest, func(path, text string) {
		for _, m := range envLiteral.FindAllStringSubmatch(text, -1) {
			server[m[1]] = true
		}
		if pkg := strings.Index(text, "\npackage main"); pkg >= 0 && strings.HasPrefix(text, "//") {
			serverDoc += text[:pkg]
		}
	})
	scripts := map[string]bool{}
	sh, _ := filepath.Glob(filepath.Join(root, "scripts", "*.sh"))
	for _, p := range sh {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range envInScript.FindAllStringSubmatch(string(b), -1) {
			scripts[m[1]] = true
		}
	}
	if len(server) == 0 || serverDoc == "" {
		t.Fatal("read no variable or no package doc from examples/server")
	}
	readme := ""
	for _, l := range docLines(t) {
		if l.doc == "README.md" {
			readme += l.text + "\n"
		}
		for _, m := range envVar.FindAllStringSubmatch(l.text, -1) {
			if !server[m[1]] && !scripts[m[1]] {
				t.Errorf("%s: names %s, which neither examples/server nor scripts/ read", l, m[1])
			}
		}
	}
	for v := range server {
		if !strings.Contains(readme, v) {
			t.Errorf("examples/server reads %s, which README.md does not name", v)
		}
		if !strings.Contains(serverDoc, v) {
			t.Errorf("examples/server reads %s, which its package doc does not name", v)
		}
	}
}

// costTable returns the rows of README's "Cost per operation" table: the
// operation and its scoped-names and shared-names cells.
func costTable(t *testing.T) (rows []line, cells [][]string) {
	t.Helper()
	in := false
	for _, l := range docLines(t) {
		if l.doc != "README.md" {
			continue
		}
		if strings.HasPrefix(l.text, "#") {
			in = strings.Contains(strings.ToLower(l.text), "cost per operation")
			continue
		}
		c := tableCells(l.text)
		if !in || len(c) != 3 || strings.HasPrefix(c[0], "---") || c[0] == "Operation" {
			continue
		}
		rows, cells = append(rows, l), append(cells, c)
	}
	if len(rows) == 0 {
		t.Fatal("README.md: found no row of the table under the heading \"Cost per operation\"")
	}
	return rows, cells
}

// claimedCalls reads a cost cell: its leading number, "none" as 0, and
// ok false for "n/a".
func claimedCalls(cell string) (n int, ok bool, err error) {
	switch {
	case strings.HasPrefix(cell, "n/a"):
		return 0, false, nil
	case strings.HasPrefix(cell, "none"):
		return 0, true, nil
	}
	num := regexp.MustCompile(`^(\d+)\b`).FindString(cell)
	if num == "" {
		return 0, false, fmt.Errorf("cannot read a call count from %q", cell)
	}
	n, err = strconv.Atoi(num)
	return n, err == nil, err
}

// costEnv is a Manager on the fake, which counts the LiveKit calls.
type costEnv struct {
	t    *testing.T
	m    *lkgate.Manager
	sip  *lkgate.SIP // newSIPCostEnv's
	fake *lkgatetest.Server
}

func newCostEnv(t *testing.T, naming lkgate.RoomNaming, cfg lkgate.Config) *costEnv {
	t.Helper()
	return newCostEnvOn(t, lkgatetest.NewServer(t), naming, cfg)
}

// newCostEnvOn is newCostEnv on a fake of the caller's.
func newCostEnvOn(t *testing.T, fake *lkgatetest.Server, naming lkgate.RoomNaming, cfg lkgate.Config) *costEnv {
	t.Helper()
	cfg.RoomNames = naming
	cfg.LeaseSweepInterval = 5 * time.Minute
	e := &costEnv{t: t, m: fake.NewManager(t, cfg), fake: fake}
	if naming == lkgate.SharedNames {
		// The sweeper sweeps once at start (one ListRooms): let it, so
		// that it does not land in a count.
		for deadline := time.Now().Add(5 * time.Second); fake.Calls("ListRooms") == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the lease sweeper did not sweep at start")
			}
		}
	}
	return e
}

// calls runs op and returns the LiveKit calls it made; op's error must
// match want (nil for success).
func (e *costEnv) calls(want error, op func() error) int {
	e.t.Helper()
	e.fake.ResetCalls()
	err := op()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		e.t.Fatalf("the operation answered %v, want %v", err, want)
	}
	return e.fake.TotalCalls()
}

func (e *costEnv) token(room string) error {
	_, err := e.m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: room, Identity: "alice"})
	return err
}

// withParticipant returns e with acme's room "r" holding alice, who
// publishes a microphone.
func (e *costEnv) withParticipant() *costEnv {
	e.t.Helper()
	if err := e.token("r"); err != nil {
		e.t.Fatal(err)
	}
	lk, err := e.m.LiveKitRoom("acme", "r")
	if err != nil {
		e.t.Fatal(err)
	}
	mic := lkgatetest.Track{Source: livekit.TrackSource_MICROPHONE, Type: livekit.TrackType_AUDIO}
	e.fake.AddParticipant(lk, lkgatetest.Participant{Identity: "alice", Tracks: []lkgatetest.Track{mic}})
	return e
}

// newSIPCostEnv is a costEnv whose tenant acme dials anywhere through its
// trunk on the fake, under limits.
func newSIPCostEnv(t *testing.T, naming lkgate.RoomNaming, limits lkgate.Limits) *costEnv {
	t.Helper()
	fake := lkgatetest.NewServer(t)
	trunk := fake.AddOutboundTrunk("pbx.example:5060", "+15550000001")
	e := newCostEnvOn(t, fake, naming, lkgate.Config{Limits: lkgate.LimitConfig{Default: limits}})
	e.sip = fake.NewSIP(t, e.m, lkgate.SIPConfig{Trunks: lkgate.TenantTrunks(map[string]string{"acme": trunk}), AllowDestination: func(string, string) bool { return true }})
	return e
}

// call places a call from acme's room to a number, waiting for the answer.
func (e *costEnv) call(room, identity string) error {
	_, err := e.sip.Call(context.Background(), "acme", lkgate.CallRequest{Room: room, Identity: identity, To: "+15550100", WaitUntilAnswered: true})
	return err
}

// guests are the guests of e's Manager.
func (e *costEnv) guests() *lkgate.Guests {
	g, err := lkgate.NewGuests(e.m, lkgate.GuestConfig{
		Keys:          []lkgate.InviteKey{{ID: "k1", Key: []byte("0123456789abcdef0123456789abcdef")}},
		InviteBaseURL: "https://app.example.com/meet/",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// indexed is cfg with an in-process room index that the Manager does not
// reconcile by itself, so that no reconciliation lands in a count.
func indexed(cfg lkgate.Config) lkgate.Config {
	cfg.RoomIndex, cfg.RoomIndexReconcile = lkgate.NewMemoryRoomIndex(nil), -1
	return cfg
}

// costs measures each operation of README's cost table under a room
// naming; the keys are the table's first column, verbatim.
var costs = map[string]func(t *testing.T, naming lkgate.RoomNaming) int{
	"token": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error { return e.token("r") })
	},
	"token, new room": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{})
		return e.calls(nil, func() error { return e.token("new") })
	},
	"token with `PrecreateRooms`": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{PrecreateRooms: true}).withParticipant()
		return e.calls(nil, func() error { return e.token("r") })
	},
	"token, new room under a room quota": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 100}}})
		return e.calls(nil, func() error { return e.token("new") })
	},
	"token, unauthenticated mode": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{AllowUnauthenticated: true})
		return e.calls(nil, func() error {
			_, err := e.m.Token(context.Background(), "", lkgate.TokenRequest{Room: "r", Identity: "alice"})
			return err
		})
	},
	// The most any of them costs: invalid input, a rate, an agent, a number.
	"any request with invalid input, or refused by a rate or a policy (permission, agent, number)": func(t *testing.T, naming lkgate.RoomNaming) int {
		invalid := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		n := invalid.calls(lkgate.ErrInvalidArgument, func() error {
			return invalid.m.RemoveParticipant(context.Background(), "acme", "r", strings.Repeat("x", 300))
		})
		rate := newCostEnv(t, naming, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{TokenRate: lkgate.PerMinute(1, 1)}}}).withParticipant()
		n = max(n, rate.calls(lkgate.ErrLimited, func() error { return rate.token("r") }))
		agent := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		n = max(n, agent.calls(lkgate.ErrForbidden, func() error {
			_, err := agent.m.Token(context.Background(), "acme", lkgate.TokenRequest{Room: "r", Identity: "bob", Agents: []lkgate.AgentDispatch{{AgentName: "a"}}})
			return err
		}))
		sipFake := lkgatetest.NewServer(t)
		trunk := sipFake.AddOutboundTrunk("pbx.example:5060", "+15550000001")
		number := newCostEnvOn(t, sipFake, naming, lkgate.Config{})
		sip := sipFake.NewSIP(t, number.m, lkgate.SIPConfig{Trunks: lkgate.TenantTrunks(map[string]string{"acme": trunk}), AllowDestination: func(string, string) bool { return false }})
		return max(n, number.calls(lkgate.ErrForbidden, func() error {
			_, err := sip.Call(context.Background(), "acme", lkgate.CallRequest{Room: "r", Identity: "phone", To: "+15550100"})
			return err
		}))
	},
	"refused by `MaxRooms`": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 1}}}).withParticipant()
		return e.calls(lkgate.ErrLimited, func() error { return e.token("new") })
	},
	"refused by `MaxConcurrentSIPCalls` (or 409 `sip_call_in_progress`)": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newSIPCostEnv(t, naming, lkgate.Limits{MaxConcurrentSIPCalls: 1}).withParticipant()
		if err := e.call("r", "phone-1"); err != nil {
			t.Fatal(err)
		}
		n := e.calls(lkgate.ErrLimited, func() error { return e.call("r", "phone-2") })
		return max(n, e.calls(lkgate.ErrCallInProgress, func() error { return e.call("r", "phone-1") }))
	},
	// Into a room lkgate has created or claimed before.
	"call": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newSIPCostEnv(t, naming, lkgate.Limits{}).withParticipant()
		if err := e.call("r", "phone-0"); err != nil {
			t.Fatal(err)
		}
		return e.calls(nil, func() error { return e.call("r", "phone") })
	},
	"transfer": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newSIPCostEnv(t, naming, lkgate.Limits{}).withParticipant()
		if err := e.call("r", "phone"); err != nil {
			t.Fatal(err)
		}
		return e.calls(nil, func() error {
			_, err := e.sip.Transfer(context.Background(), "acme", lkgate.TransferRequest{Room: "r", Identity: "phone", TransferTo: "+15550101"})
			return err
		})
	},
	"guest room-auth": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		g := e.guests()
		inv, err := g.Invite(context.Background(), "acme", lkgate.InviteRequest{Org: "acme", Room: "r", AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		return e.calls(nil, func() error {
			_, err := g.RoomAuth(context.Background(), inv.Token, "Guest")
			return err
		})
	},
	"guest waiting list, one guest waiting": func(t *testing.T, naming lkgate.RoomNaming) int {
		return waitingListCost(newCostEnv(t, naming, lkgate.Config{}))
	},
	"guest waiting list, one guest waiting, with a `RoomIndex`": func(t *testing.T, naming lkgate.RoomNaming) int {
		return waitingListCost(newCostEnv(t, naming, indexed(lkgate.Config{})))
	},
	"list rooms": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error { _, err := e.m.ListRooms(context.Background(), "acme"); return err })
	},
	"list rooms with a `RoomIndex`": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, indexed(lkgate.Config{})).withParticipant()
		if _, err := e.m.ReconcileRoomIndex(context.Background()); err != nil {
			t.Fatal(err)
		}
		return e.calls(nil, func() error { _, err := e.m.ListRooms(context.Background(), "acme"); return err })
	},
	"token, new room under a room quota, with a `RoomIndex`": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, indexed(lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 100}}}))
		return e.calls(nil, func() error { return e.token("new") })
	},
	"refused by `MaxRooms`, with a `RoomIndex`": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, indexed(lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 1}}})).withParticipant()
		return e.calls(lkgate.ErrLimited, func() error { return e.token("new") })
	},
	"`room_started` or `room_finished` webhook, with a `RoomIndex`": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, indexed(lkgate.Config{})).withParticipant()
		lk, _ := e.m.LiveKitRoom("acme", "r")
		room, _ := e.fake.Room(lk)
		return e.calls(nil, func() error {
			return e.m.IndexRoomEvent(context.Background(), &livekit.WebhookEvent{Event: "room_started", Room: room})
		})
	},
	"room index reconciliation": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, indexed(lkgate.Config{})).withParticipant()
		return e.calls(nil, func() error { _, err := e.m.ReconcileRoomIndex(context.Background()); return err })
	},
	"room details": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error { _, err := e.m.Room(context.Background(), "acme", "r"); return err })
	},
	"remove participant": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error { return e.m.RemoveParticipant(context.Background(), "acme", "r", "alice") })
	},
	"remove with `ban_seconds` (ban)": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error {
			_, err := e.m.Ban(context.Background(), "acme", "r", "alice", time.Hour)
			return err
		})
	},
	"token for a banned identity": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		if _, err := e.m.Ban(context.Background(), "acme", "r", "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
		return e.calls(lkgate.ErrForbidden, func() error { return e.token("r") })
	},
	"unban": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		if _, err := e.m.Ban(context.Background(), "acme", "r", "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
		return e.calls(nil, func() error { return e.m.Unban(context.Background(), "acme", "r", "alice") })
	},
	"delete room": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error { return e.m.DeleteRoom(context.Background(), "acme", "r") })
	},
	"join guard, banned identity back": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		lk, _ := e.m.LiveKitRoom("acme", "r")
		res, err := lksdk.NewRoomServiceClient(e.fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret).
			ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{lk}})
		if err != nil || len(res.GetRooms()) != 1 {
			t.Fatalf("the room: %v %v", res, err)
		}
		if _, err := e.m.Ban(context.Background(), "acme", "r", "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
		e.fake.AddParticipant(lk, lkgatetest.Participant{Identity: "alice", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}})
		ev := &livekit.WebhookEvent{Event: "participant_joined", Room: res.GetRooms()[0],
			Participant: &livekit.ParticipantInfo{Identity: "alice", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}}}
		return e.calls(nil, func() error {
			if removed, err := e.m.GuardJoin(context.Background(), ev); err != nil || !removed {
				return fmt.Errorf("removed %v: %w", removed, err)
			}
			return nil
		})
	},
	"ban sweep, one ban, its identity back in the room": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{BanSweepInterval: -1}).withParticipant()
		if _, err := e.m.Ban(context.Background(), "acme", "r", "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
		lk, _ := e.m.LiveKitRoom("acme", "r")
		e.fake.AddParticipant(lk, lkgatetest.Participant{Identity: "alice"})
		return e.calls(nil, func() error {
			if removed, err := e.m.SweepBans(context.Background()); err != nil || removed != 1 {
				return fmt.Errorf("removed %d: %w", removed, err)
			}
			return nil
		})
	},
	"mute (by SID or source)": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error {
			_, err := e.m.MuteTrack(context.Background(), "acme", lkgate.MuteRequest{Room: "r", Identity: "alice", Source: lkgate.SourceMicrophone, Muted: true})
			return err
		})
	},
	"update permissions": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error {
			_, err := e.m.UpdatePermissions(context.Background(), "acme", "r", "alice", lkgate.ViewerGrant())
			return err
		})
	},
	"join guard, participant of the room's tenant": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		lk, _ := e.m.LiveKitRoom("acme", "r")
		res, err := lksdk.NewRoomServiceClient(e.fake.URL(), lkgatetest.APIKey, lkgatetest.APISecret).
			ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{lk}})
		if err != nil || len(res.GetRooms()) != 1 {
			t.Fatalf("the room: %v %v", res, err)
		}
		ev := &livekit.WebhookEvent{Event: "participant_joined", Room: res.GetRooms()[0],
			Participant: &livekit.ParticipantInfo{Identity: "bob", Attributes: map[string]string{lkgate.TenantAttribute: "acme"}}}
		return e.calls(nil, func() error {
			if removed, err := e.m.GuardJoin(context.Background(), ev); err != nil || removed {
				return fmt.Errorf("removed %v: %w", removed, err)
			}
			return nil
		})
	},
	"lease sweep": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{}).withParticipant()
		return e.calls(nil, func() error { return e.m.SweepLeases(context.Background()) })
	},
}

// alsoCosts measures the further claims of a cost cell, written after a
// semicolon ("1 if the room exists"); the keys are the operation and the
// claim's words, verbatim.
var alsoCosts = map[string]func(t *testing.T, naming lkgate.RoomNaming) int{
	"token with `PrecreateRooms`: the first time": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{PrecreateRooms: true})
		return e.calls(nil, func() error { return e.token("new") })
	},
	"token, new room under a room quota: if the room exists": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxRooms: 100}}}).withParticipant()
		return e.calls(nil, func() error { return e.token("r") })
	},
	"call: the first time into a room": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newSIPCostEnv(t, naming, lkgate.Limits{}).withParticipant()
		return e.calls(nil, func() error { return e.call("r", "phone") })
	},
	"call: into a new room": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newSIPCostEnv(t, naming, lkgate.Limits{})
		return e.calls(nil, func() error { return e.call("new", "phone") })
	},
	"guest room-auth: when refused by a waiting cap": func(t *testing.T, naming lkgate.RoomNaming) int {
		e := newCostEnv(t, naming, lkgate.Config{Limits: lkgate.LimitConfig{Default: lkgate.Limits{MaxWaitingGuestsPerRoom: 1}}}).withParticipant()
		g := e.guests()
		inv, err := g.Invite(context.Background(), "acme", lkgate.InviteRequest{Org: "acme", Room: "r", AllowAll: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.RoomAuth(context.Background(), inv.Token, "First"); err != nil {
			t.Fatal(err)
		}
		return e.calls(lkgate.ErrLimited, func() error {
			_, err := g.RoomAuth(context.Background(), inv.Token, "Second")
			return err
		})
	},
}

// waitingListCost measures the waiting list of e's room "r" with one
// guest in its lobby.
func waitingListCost(e *costEnv) int {
	e = e.withParticipant()
	g := e.guests()
	ctx := context.Background()
	inv, err := g.Invite(ctx, "acme", lkgate.InviteRequest{Org: "acme", Room: "r", AllowAll: true})
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := g.RoomAuth(ctx, inv.Token, "Guest")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.fake.Join(s.Token.JWT); err != nil {
		e.t.Fatal(err)
	}
	return e.calls(nil, func() error {
		ws, err := g.Waiting(ctx, "acme", "r")
		if err == nil && len(ws) != 1 {
			e.t.Fatalf("%d guests waiting, want 1", len(ws))
		}
		return err
	})
}

// furtherClaim reads "; N words" claims of a cost cell.
var furtherClaim = regexp.MustCompile(`;\s*(\d+)\s+([^;:|()]*[^;:|()\s])`)

// Every LiveKit call count in README's cost table is what the operation
// costs on the fake, under each room naming: the cell's leading count, and
// each further "; N if ..." claim.
func TestDocsCallCounts(t *testing.T) {
	rows, cells := costTable(t)
	namings := []struct {
		name   string
		naming lkgate.RoomNaming
	}{{"scoped names", lkgate.ScopedNames}, {"shared names", lkgate.SharedNames}}
	for i, l := range rows {
		op := cells[i][0]
		measure, ok := costs[op]
		if !ok {
			t.Errorf("%s: the cost table's operation %q has no measurement in internal/docs (TestDocsCallCounts)", l, op)
			continue
		}
		for j, n := range namings {
			cell := cells[i][j+1]
			want, ok, err := claimedCalls(cell)
			if err != nil {
				t.Errorf("%s: %q under %s: %v", l, op, n.name, err)
				continue
			}
			if !ok {
				continue
			}
			t.Run(op+"/"+n.name, func(t *testing.T) {
				if got := measure(t, n.naming); got != want {
					t.Errorf("%s: README says %q costs %d LiveKit calls under %s (%q); measured %d", l, op, want, n.name, cell, got)
				}
			})
			for _, c := range furtherClaim.FindAllStringSubmatch(cell, -1) {
				claim := op + ": " + c[2]
				measure, ok := alsoCosts[claim]
				if !ok {
					t.Errorf("%s: the cost claim %q (%q under %s) has no measurement in internal/docs (TestDocsCallCounts)", l, c[0], op, n.name)
					continue
				}
				want, _ := strconv.Atoi(c[1])
				t.Run(claim+"/"+n.name, func(t *testing.T) {
					if got := measure(t, n.naming); got != want {
						t.Errorf("%s: README says %q costs %d LiveKit calls %s under %s; measured %d", l, op, want, c[2], n.name, got)
					}
				})
			}
		}
	}
}
