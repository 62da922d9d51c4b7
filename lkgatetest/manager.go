package lkgatetest

import (
	"encoding/json"
	"testing"

	"github.com/lkgate/lkgate"
)

// NewManager returns an lkgate.Manager on s, closed when t's test ends: cfg
// with its URL, APIKey and APISecret set to s's, whatever they held (a
// RoomService cfg sets is kept). If lkgate.New refuses cfg,
// NewManager fails t with t.Fatal, so call it from the test's goroutine.
// s must be started.
func (s *Server) NewManager(t testing.TB, cfg lkgate.Config) *lkgate.Manager {
	t.Helper()
	cfg.URL, cfg.APIKey, cfg.APISecret = s.URL(), APIKey, APISecret
	m, err := lkgate.New(cfg)
	if err != nil {
		t.Fatalf("lkgatetest: lkgate.New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Admission returns the admission message lkgate last wrote for the guest
// identity into its lobby lobbyRoom (lkgate.GuestSession's LobbyRoom, or
// room-auth's lobbyRoom), as the guest's client received it, and whether
// there is one. A waiting guest has none until it is admitted or denied.
// The message outlives the lobby, which lkgate closes right after telling a
// guest it is denied. The guest must have joined its lobby (Join with its
// lobby token) for lkgate to reach it.
func (s *Server) Admission(lobbyRoom, identity string) (lkgate.AdmissionMessage, bool) {
	s.mu.Lock()
	v, ok := s.admissions[participantKey{lobbyRoom, identity}]
	s.mu.Unlock()
	var msg lkgate.AdmissionMessage
	if !ok || json.Unmarshal([]byte(v), &msg) != nil {
		return lkgate.AdmissionMessage{}, false
	}
	return msg, true
}
