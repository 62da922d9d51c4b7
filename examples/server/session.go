package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lkgate/lkgate/httpx"
)

// The demo page's sign-in: people sign in as the users of LKGATE_DEMO_USERS,
// the server keeps their session and hands the browser an HttpOnly cookie,
// and the API behind the page authenticates by that cookie. The browser
// never holds an API key, and each user's session carries only that user's
// permissions: a member may join rooms, only a host may moderate and
// admit. Cross-site requests cannot use the session: the cookie is
// SameSite=Strict, the API takes only application/json bodies (415
// otherwise, and a cross-origin JSON request needs a CORS preflight this
// server never grants), and http.CrossOriginProtection refuses cross-origin
// state-changing requests.

const (
	sessionCookie = "lkgate_demo_session"
	sessionTTL    = 12 * time.Hour
)

// demoUser is one entry of LKGATE_DEMO_USERS.
type demoUser struct {
	password    [sha256.Size]byte
	tenant      string
	permissions httpx.Permission
}

// parseDemoUsers reads "user:password=tenant:permissions,...", split at the
// first ":" and the last "="; permissions as httpx.ParsePermissions reads
// them. Errors name the entry, never a password.
func parseDemoUsers(raw string) (map[string]demoUser, error) {
	users := map[string]demoUser{}
	for i, entry := range strings.Split(raw, ",") {
		entry = strings.TrimSpace(entry)
		eq := strings.LastIndexByte(entry, '=')
		if eq < 0 {
			return nil, fmt.Errorf("entry %d is not user:password=tenant:permissions", i+1)
		}
		name, password, _ := strings.Cut(entry[:eq], ":")
		tenant, perms, _ := strings.Cut(entry[eq+1:], ":")
		if name == "" || password == "" || tenant == "" {
			return nil, fmt.Errorf("entry %d is not user:password=tenant:permissions", i+1)
		}
		if _, dup := users[name]; dup {
			return nil, fmt.Errorf("entry %d repeats the user %q", i+1, name)
		}
		p, err := httpx.ParsePermissions(perms)
		if err != nil {
			return nil, fmt.Errorf("entry %d (user %q): %w", i+1, name, err)
		}
		users[name] = demoUser{password: sha256.Sum256([]byte(password)), tenant: tenant, permissions: p}
	}
	return users, nil
}

// sessions holds the demo page's signed-in users in memory. It is safe for
// concurrent use.
type sessions struct {
	users map[string]demoUser
	now   func() time.Time

	mu   sync.Mutex
	byID map[string]session
}

type session struct {
	user    string
	expires time.Time
}

func newSessions(users map[string]demoUser) *sessions {
	return &sessions{users: users, now: time.Now, byID: map[string]session{}}
}

// Authenticate maps the request's session cookie to the signed-in user's
// principal: the user's tenant and permissions, the user's name as the
// subject (which guest admission checks).
func (s *sessions) Authenticate(r *http.Request) (httpx.Principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return httpx.Principal{}, httpx.ErrNoCredentials
	}
	name, ok := s.lookup(c.Value)
	if !ok {
		return httpx.Principal{}, httpx.ErrBadCredentials
	}
	u := s.users[name]
	return httpx.Principal{Tenant: u.tenant, Subject: name, Permissions: u.permissions}, nil
}

func (s *sessions) lookup(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byID[id]
	if !ok || !s.now().Before(sess.expires) {
		delete(s.byID, id)
		return "", false
	}
	return sess.user, true
}

// signIn checks a user's password in constant time and opens a session.
func (s *sessions) signIn(name, password string) (string, bool) {
	u, known := s.users[name]
	sum := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(sum[:], u.password[:]) != 1 || !known {
		return "", false
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	id := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for old, sess := range s.byID { // expired sessions go at the next sign-in
		if !now.Before(sess.expires) {
			delete(s.byID, old)
		}
	}
	s.byID[id] = session{user: name, expires: now.Add(sessionTTL)}
	return id, true
}

func (s *sessions) signOut(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// sessionJSON is what the page learns about its user: no secret.
type sessionJSON struct {
	User        string   `json:"user"`
	Tenant      string   `json:"tenant"`
	Permissions []string `json:"permissions"`
}

func (s *sessions) describe(name string) sessionJSON {
	u := s.users[name]
	out := sessionJSON{User: name, Tenant: u.tenant, Permissions: []string{}}
	if u.permissions != 0 {
		out.Permissions = strings.Split(u.permissions.String(), "+")
	}
	return out
}

// mount serves the sign-in under /demo/session, behind csrf: POST signs in
// (JSON {"user","password"}) and sets the cookie, GET says who is signed
// in, and DELETE signs out.
func (s *sessions) mount(mux *http.ServeMux, csrf *http.CrossOriginProtection) {
	handle := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, csrf.Handler(fn)) }
	handle("POST /demo/session", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			User     string `json:"user"`
			Password string `json:"password"`
		}
		if err := decodeJSON(w, r, &req); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, errNotJSON) {
				status = http.StatusUnsupportedMediaType
			}
			writeError(w, status, err.Error())
			return
		}
		id, ok := s.signIn(req.User, req.Password)
		if !ok {
			writeError(w, http.StatusUnauthorized, "unknown user or wrong password")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionTTL / time.Second),
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		writeJSON(w, http.StatusOK, s.describe(req.User))
	})
	handle("GET /demo/session", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Authenticate(r)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "not signed in")
			return
		}
		writeJSON(w, http.StatusOK, s.describe(p.Subject))
	})
	handle("DELETE /demo/session", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			s.signOut(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	})
}

// apiAuth authenticates the API: by API key when the request carries an
// Authorization header (backends, curl), otherwise by the demo page's
// session cookie when there is one.
type apiAuth struct {
	keys     httpx.Authenticator
	sessions *sessions // nil without demo users
}

func (a apiAuth) Authenticate(r *http.Request) (httpx.Principal, error) {
	if a.sessions != nil && r.Header.Get("Authorization") == "" {
		if _, err := r.Cookie(sessionCookie); err == nil {
			return a.sessions.Authenticate(r)
		}
	}
	return a.keys.Authenticate(r)
}

var errNotJSON = errors.New("the request body must be application/json")

func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errNotJSON
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return errors.New("the request body is not a JSON object of user and password")
	}
	return nil
}

// writeError answers with a problem shaped like lkgate's, which the page
// shows the same way.
func writeError(w http.ResponseWriter, status int, detail string) {
	code := map[int]string{http.StatusBadRequest: httpx.CodeInvalidArgument, http.StatusUnauthorized: httpx.CodeUnauthenticated,
		http.StatusUnsupportedMediaType: httpx.CodeUnsupportedMediaType, http.StatusForbidden: httpx.CodeForbidden}[status]
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(httpx.Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newCrossOriginProtection refuses cross-origin browser requests that could
// change something (http.CrossOriginProtection), with a problem the page
// can show.
func newCrossOriginProtection() *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	return c
}
