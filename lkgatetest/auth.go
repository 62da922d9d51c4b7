package lkgatetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

const (
	bearerPrefix = "Bearer "
	// tokenLeeway is the clock skew livekit-server tolerates on exp, nbf
	// and iat.
	tokenLeeway = time.Minute
)

// tokenClaims is the JWT payload LiveKit signs: registered claims plus the
// LiveKit grants.
type tokenClaims struct {
	jwt.RegisteredClaims
	auth.ClaimGrants
}

type grantsKey struct{}

func withGrants(ctx context.Context, g *auth.ClaimGrants) context.Context {
	return context.WithValue(ctx, grantsKey{}, g)
}

func grantsFrom(ctx context.Context) *auth.ClaimGrants {
	g, _ := ctx.Value(grantsKey{}).(*auth.ClaimGrants)
	return g
}

// authenticate mirrors livekit-server's APIKeyAuthMiddleware (v1.8.4,
// pkg/service/auth.go). A request without a token passes with nil grants,
// which the RPC handlers then refuse with "permissions denied". A token
// that is present but unusable is an error whose text is the server's
// HTTP 401 body; like the server's, it may contain the token itself.
func (s *Server) authenticate(r *http.Request) (*auth.ClaimGrants, error) {
	var raw string
	if h := r.Header.Get("Authorization"); h != "" {
		var ok bool
		if raw, ok = strings.CutPrefix(h, bearerPrefix); !ok {
			return nil, errors.New("invalid authorization header. Must start with " + bearerPrefix)
		}
	} else {
		raw = r.URL.Query().Get("access_token")
	}
	if raw == "" {
		return nil, nil
	}

	v, err := auth.ParseAPIToken(raw)
	if err != nil {
		return nil, errors.New("invalid authorization token")
	}
	if v.APIKey() != APIKey {
		return nil, errors.New("invalid API key: " + v.APIKey())
	}

	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	claims := &tokenClaims{}
	_, err = jwt.ParseWithClaims(raw, claims,
		func(*jwt.Token) (any, error) { return []byte(APISecret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(APIKey),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(now),
	)
	if err != nil {
		return nil, fmt.Errorf("invalid token: %s, error: %w", raw, err)
	}
	return &claims.ClaimGrants, nil
}

// errPermissionDenied is how the server answers a missing or insufficient
// grant.
func errPermissionDenied() error {
	return twirp.NewError(twirp.Unauthenticated, "permissions denied")
}

// ensureCreate requires video.roomCreate, unscoped: the server lets it act
// on any room.
func ensureCreate(ctx context.Context) error {
	if g := grantsFrom(ctx); g == nil || g.Video == nil || !g.Video.RoomCreate {
		return errPermissionDenied()
	}
	return nil
}

// ensureList requires video.roomList, unscoped.
func ensureList(ctx context.Context) error {
	if g := grantsFrom(ctx); g == nil || g.Video == nil || !g.Video.RoomList {
		return errPermissionDenied()
	}
	return nil
}

// ensureAdmin requires video.roomAdmin with video.room naming this very
// room.
func ensureAdmin(ctx context.Context, roomName string) error {
	if g := grantsFrom(ctx); g == nil || g.Video == nil || !g.Video.RoomAdmin || g.Video.Room != roomName {
		return errPermissionDenied()
	}
	return nil
}

// serverError reproduces how livekit-server v1.8.4 reports errors raised in
// its internal RPC layer (psrpc): xtwirp.ToError wraps them in a twirp
// "unknown" error and then restores the code, so the message the client
// receives is "twirp error unknown: <msg>".
func serverError(code twirp.ErrorCode, msg string) error {
	return twirp.NewError(code, twirp.NewError(twirp.Unknown, msg).Error())
}

// Join joins a participant as a client holding token would: the token is
// checked as the server checks it (signature, issuer, times with one minute
// of leeway, a roomJoin grant), and the participant gets the token's room,
// identity, name, metadata, attributes and permissions (publish, subscribe
// and data default to allowed, as on the server). Like AddParticipant, it
// creates a missing room and replaces a participant with the same identity.
// It returns a copy of the stored participant. Use it to stand in for a
// real client in tests of code that hands tokens out.
func (s *Server) Join(token string) (*livekit.ParticipantInfo, error) {
	r := &http.Request{Header: http.Header{"Authorization": {bearerPrefix + token}}}
	g, err := s.authenticate(r)
	switch {
	case err != nil:
		return nil, errors.New("lkgatetest: join refused: invalid token")
	case g == nil || g.Video == nil || !g.Video.RoomJoin || g.Video.Room == "":
		return nil, errors.New("lkgatetest: join refused: the token has no roomJoin grant for a room")
	case g.Identity == "":
		return nil, errors.New("lkgatetest: join refused: the token has no identity")
	}
	v := g.Video
	if cfg := g.GetRoomConfiguration(); cfg != nil {
		// The token's room configuration applies when its join creates the
		// room, and only then.
		s.mu.Lock()
		if s.rooms[v.Room] == nil {
			s.createRoomLocked(&livekit.CreateRoomRequest{
				Name: v.Room, EmptyTimeout: cfg.EmptyTimeout, DepartureTimeout: cfg.DepartureTimeout,
				MaxParticipants: cfg.MaxParticipants, Agents: cfg.Agents,
			})
		}
		s.mu.Unlock()
	}
	perm := &livekit.ParticipantPermission{
		CanSubscribe:      v.GetCanSubscribe(),
		CanPublish:        v.GetCanPublish(),
		CanPublishData:    v.GetCanPublishData(),
		CanUpdateMetadata: v.GetCanUpdateOwnMetadata(),
		CanPublishSources: v.GetCanPublishSources(),
		Hidden:            v.Hidden,
	}
	return s.AddParticipant(v.Room, Participant{
		Identity:   g.Identity,
		Name:       g.Name,
		Metadata:   g.Metadata,
		Attributes: g.Attributes,
		Permission: perm,
	}), nil
}
