package lkgatetest

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
	"github.com/livekit/protocol/utils/xtwirp"
	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// APIKey is the API key the fake accepts: the same development pair as
// livekit-server --dev, so code under test can use one configuration for
// both.
const APIKey = "devkey"

// APISecret is the secret paired with APIKey. Tokens signed with anything
// else are refused.
const APISecret = "secretsecretsecretsecretsecretsecret"

// Server is an in-memory LiveKit RoomService reached over HTTP by the real
// SDK client. Seed and inspect it with its direct methods (AddParticipant,
// Room, Participants, ...), which need no token. A Server is safe for
// concurrent use.
type Server struct {
	srv       *httptest.Server
	closing   chan struct{} // closed by Close to release delayed requests
	closeOnce sync.Once

	mu     sync.Mutex
	now    func() time.Time
	rooms  map[string]*room
	errs   map[string]error
	delays map[string]time.Duration
	// listLag hides rooms from ListRooms after their last write (SetListLag).
	listLag time.Duration
	calls   map[string]int

	trunks    map[string]*livekit.SIPOutboundTrunkInfo
	farEnds   map[string]FarEnd
	dialed    []*livekit.CreateSIPParticipantRequest
	transfers []*livekit.TransferSIPParticipantRequest

	admissions map[participantKey]string // for Admission: kept when the lobby closes
}

// participantKey names a participant of a room.
type participantKey struct{ room, identity string }

// room is the state of one running room.
type room struct {
	info         *livekit.Room              // NumParticipants and NumPublishers are filled on read
	participants []*livekit.ParticipantInfo // in join order
	sent         []*livekit.SendDataRequest
	dispatches   []*livekit.AgentDispatch
	written      time.Time // real time of the creation or last metadata write, for SetListLag
}

// Participant describes a participant to seed with AddParticipant, as if it
// had joined with a token carrying these fields. A nil Permission means the
// default join grant: can subscribe, publish and publish data.
type Participant struct {
	Identity   string
	Name       string
	Metadata   string
	Attributes map[string]string
	Kind       livekit.ParticipantInfo_Kind // AGENT and EGRESS are left out of NumParticipants
	Permission *livekit.ParticipantPermission
	Tracks     []Track // published tracks; any track makes the participant a publisher
}

// Track describes a track the seeded participant has published. An empty
// Sid is replaced by a fresh "TR_" sid.
type Track struct {
	Sid    string // set it to refer to the track in MutePublishedTrack calls
	Source livekit.TrackSource
	Type   livekit.TrackType
	Muted  bool
	Name   string
}

// NewServer starts a Server and closes it when t's test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := NewUnstartedServer()
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// NewUnstartedServer returns a Server listening on a loopback port but not
// yet serving, so it can be seeded or given a clock before the first request.
// Call Start, then Close when done.
func NewUnstartedServer() *Server {
	s := &Server{
		closing: make(chan struct{}),
		now:     time.Now,
		rooms:   make(map[string]*room),
		errs:    make(map[string]error),
		delays:  make(map[string]time.Duration),
		calls:   make(map[string]int),
		trunks:  make(map[string]*livekit.SIPOutboundTrunkInfo),
		farEnds: make(map[string]FarEnd),

		admissions: make(map[participantKey]string),
	}
	s.srv = httptest.NewUnstartedServer(s.handler())
	return s
}

// Start starts serving. Like httptest.Server.Start, it panics if the server
// is already started or closed.
func (s *Server) Start() { s.srv.Start() }

// Close stops the server and blocks until outstanding requests finish.
// Requests held by SetDelay are answered at once with twirp unavailable.
// Calling Close more than once is harmless.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// URL returns the base URL (http://127.0.0.1:port) to pass to
// lksdk.NewRoomServiceClient. It is empty before Start.
func (s *Server) URL() string { return s.srv.URL }

// SetClock sets the clock used for room creation times, participants'
// joined_at and token expiry checks. Nil restores time.Now. The SDK signs
// its tokens with the real clock, so keep this one within a minute of real
// time (the server's leeway) or every call is refused as unauthenticated.
func (s *Server) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetError makes every following call of the RPC method (e.g. "ListRooms"
// or "CreateSIPParticipant") fail with err until SetError(method, nil). A
// twirp.Error reaches the client as is; a gRPC status error keeps its
// details (such as a livekit.SIPStatus) as LiveKit's SIP errors do; any
// other error arrives as twirp internal. Injected errors
// are answered before authentication and after any SetDelay.
func (s *Server) SetError(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.errs, method)
		return
	}
	s.errs[method] = err
}

// SetDelay holds every following call of the RPC method for d before
// answering, or until the client gives up, whichever is first. Zero removes
// the delay.
func (s *Server) SetDelay(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.delays, method)
		return
	}
	s.delays[method] = d
}

// SetListLag makes ListRooms leave out a room for d after it was created
// or its metadata last written, as a LiveKit whose room list trails its
// writes (the real one's trails by milliseconds). Zero, the default,
// shows every write at once. Room and the other direct methods see the
// room regardless.
func (s *Server) SetListLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listLag = d
}

// Calls returns how many requests for the RPC method (e.g. "CreateRoom")
// arrived since the start or the last ResetCalls, failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// TotalCalls returns how many RoomService and SIP requests arrived since the start
// or the last ResetCalls, failed ones included.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// ResetCalls sets all call counts to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

// AddParticipant joins p to the room, creating the room with default
// settings and empty metadata if it is missing, as a real join does. The
// participant gets a fresh "PA_" sid, state ACTIVE and joined_at from the
// clock. A participant already present with the same identity is replaced,
// as the real server disconnects the earlier session. It returns a copy of
// the stored participant.
func (s *Server) AddParticipant(roomName string, p Participant) *livekit.ParticipantInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[roomName]
	if r == nil {
		r = s.createRoomLocked(&livekit.CreateRoomRequest{Name: roomName})
	}
	now := s.now()
	info := &livekit.ParticipantInfo{
		Sid:         guid.New(guid.ParticipantPrefix),
		Identity:    p.Identity,
		Name:        p.Name,
		Metadata:    p.Metadata,
		Attributes:  maps.Clone(p.Attributes),
		Kind:        p.Kind,
		State:       livekit.ParticipantInfo_ACTIVE,
		JoinedAt:    now.Unix(),
		JoinedAtMs:  now.UnixMilli(),
		Permission:  defaultPermission(),
		IsPublisher: len(p.Tracks) > 0,
	}
	if p.Permission != nil {
		info.Permission = proto.Clone(p.Permission).(*livekit.ParticipantPermission)
	}
	for _, t := range p.Tracks {
		sid := t.Sid
		if sid == "" {
			sid = guid.New(guid.TrackPrefix)
		}
		info.Tracks = append(info.Tracks, &livekit.TrackInfo{
			Sid:    sid,
			Type:   t.Type,
			Name:   t.Name,
			Muted:  t.Muted,
			Source: t.Source,
		})
	}
	r.participants = slices.DeleteFunc(r.participants, func(old *livekit.ParticipantInfo) bool {
		return old.Identity == p.Identity
	})
	r.participants = append(r.participants, info)
	return proto.Clone(info).(*livekit.ParticipantInfo)
}

// Room returns a copy of the named room, with its current participant
// counts, and whether it exists.
func (s *Server) Room(name string) (*livekit.Room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[name]
	if r == nil {
		return nil, false
	}
	return r.proto(), true
}

// Dispatches returns copies of the room's agent dispatches, or nil if the
// room does not exist.
func (s *Server) Dispatches(roomName string) []*livekit.AgentDispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[roomName]; r != nil {
		return cloneAll(r.dispatches)
	}
	return nil
}

// Participants returns copies of the room's participants in join order, or
// nil if the room does not exist.
func (s *Server) Participants(roomName string) []*livekit.ParticipantInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[roomName]
	if r == nil {
		return nil
	}
	return cloneAll(r.participants)
}

// Participant returns a copy of the room's participant identity, and
// whether it is there.
func (s *Server) Participant(roomName, identity string) (*livekit.ParticipantInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.participantLocked(roomName, identity)
	if p == nil {
		return nil, false
	}
	return proto.Clone(p).(*livekit.ParticipantInfo), true
}

// SentData returns copies of the SendData requests the room received, oldest
// first. Deleting the room discards them.
func (s *Server) SentData(roomName string) []*livekit.SendDataRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[roomName]
	if r == nil {
		return nil
	}
	return cloneAll(r.sent)
}

// handler counts each RoomService and SIP request, applies injected delays
// and errors, authenticates like livekit-server's middleware and hands the
// request to the generated twirp server.
func (s *Server) handler() http.Handler {
	rooms := livekit.NewRoomServiceServer(roomService{s})
	dispatch := livekit.NewAgentDispatchServiceServer(dispatchService{s})
	// As in livekit-server, SIP errors keep their gRPC details (the SIP
	// status) on the way through twirp.
	sip := livekit.NewSIPServer(sipService{s}, xtwirp.ServerPassErrorDetails())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rpc http.Handler = rooms
		method, ok := strings.CutPrefix(r.URL.Path, livekit.RoomServicePathPrefix)
		if m, isSIP := strings.CutPrefix(r.URL.Path, livekit.SIPPathPrefix); isSIP {
			rpc, method, ok = sip, m, true
		}
		if m, isDispatch := strings.CutPrefix(r.URL.Path, livekit.AgentDispatchServicePathPrefix); isDispatch {
			rpc, method, ok = dispatch, m, true
		}
		if ok {
			delay, injected := s.receive(method)
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
					return // the client has gone; nobody reads an answer
				case <-s.closing:
					_ = twirp.WriteError(w, twirp.NewError(twirp.Unavailable, "lkgatetest: server closed"))
					return
				}
			}
			if injected != nil {
				if _, isStatus := status.FromError(injected); isStatus {
					injected = xtwirp.ToError(injected)
				}
				_ = twirp.WriteError(w, injected)
				return
			}
		}
		grants, err := s.authenticate(r)
		if err != nil {
			// The real middleware answers in plain text, not twirp JSON; the
			// twirp client turns that into unauthenticated.
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(err.Error()))
			return
		}
		rpc.ServeHTTP(w, r.WithContext(withGrants(r.Context(), grants)))
	})
}

// receive counts a call of method and returns its fault settings.
func (s *Server) receive(method string) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	return s.delays[method], s.errs[method]
}

// proto returns a copy of the room with participant counts filled as the
// real server does: agents and recorders are not counted as participants.
func (r *room) proto() *livekit.Room {
	out := proto.Clone(r.info).(*livekit.Room)
	for _, p := range r.participants {
		if !isDependent(p) {
			out.NumParticipants++
		}
		if p.IsPublisher {
			out.NumPublishers++
		}
	}
	return out
}

func (r *room) participant(identity string) *livekit.ParticipantInfo {
	for _, p := range r.participants {
		if p.Identity == identity {
			return p
		}
	}
	return nil
}

func isDependent(p *livekit.ParticipantInfo) bool {
	switch p.Kind {
	case livekit.ParticipantInfo_AGENT, livekit.ParticipantInfo_EGRESS:
		return true
	}
	//lint:ignore SA1019 livekit-server v1.8.4 still counts participants by these fields
	return p.Permission.GetAgent() || p.Permission.GetRecorder()
}

// defaultPermission is what a join token without explicit publish or
// subscribe grants yields.
func defaultPermission() *livekit.ParticipantPermission {
	return &livekit.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: true}
}

func cloneAll[M proto.Message](in []M) []M {
	out := make([]M, len(in))
	for i, m := range in {
		out[i] = proto.Clone(m).(M)
	}
	return out
}
