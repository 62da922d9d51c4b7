package lkgate_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"

	"github.com/lkgate/lkgate"
	"github.com/lkgate/lkgate/lkgatetest"
)

// Mint a token for a tenant's room. Under the default naming, ScopedNames,
// it costs no LiveKit call: the token names the tenant's own LiveKit room,
// which the first join creates. Another tenant's "standup" is another room.
func ExampleManager_Token() {
	fake := lkgatetest.NewUnstartedServer()
	fake.Start()
	defer fake.Close()

	m, err := lkgate.New(lkgate.Config{
		URL:       fake.URL(),
		PublicURL: "wss://rtc.example.com",
		APIKey:    lkgatetest.APIKey,
		APISecret: lkgatetest.APISecret,
		Now:       func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	tok, err := m.Token(ctx, "acme", lkgate.TokenRequest{Room: "standup", Identity: "alice", Name: "Alice"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.URL, tok.Room, tok.Identity, tok.ExpiresAt.Format(time.RFC3339))
	fmt.Println("LiveKit calls:", fake.TotalCalls())

	var claims struct {
		jwt.RegisteredClaims
		auth.ClaimGrants
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	if _, err := parser.ParseWithClaims(tok.JWT, &claims, func(*jwt.Token) (any, error) { return []byte(lkgatetest.APISecret), nil }); err != nil {
		log.Fatal(err)
	}
	v := claims.Video
	fmt.Printf("join %q publish=%t subscribe=%t admin=%t create=%t tenant=%s\n",
		v.Room, v.GetCanPublish(), v.GetCanSubscribe(), v.RoomAdmin, v.RoomCreate, claims.Attributes[lkgate.TenantAttribute])

	theirs, err := m.Token(ctx, "globex", lkgate.TokenRequest{Room: "standup", Identity: "mallory"})
	if err != nil {
		log.Fatal(err)
	}
	lk, _ := m.LiveKitRoom("globex", theirs.Room)
	fmt.Println("globex's", theirs.Room, "is LiveKit's", lk)
	// Output:
	// wss://rtc.example.com standup alice 2026-11-23T12:10:00Z
	// LiveKit calls: 0
	// join "t4_acme_standup" publish=true subscribe=true admin=false create=false tenant=acme
	// globex's standup is LiveKit's t6_globex_standup
}

// Ask for a narrower grant: a viewer who may only subscribe.
func ExampleViewerGrant() {
	g := lkgate.ViewerGrant()
	req := lkgate.TokenRequest{Room: "webinar", Identity: "viewer-42", Grant: &g}
	fmt.Printf("%+v\n", *req.Grant)
	// Output:
	// {CanPublish:false CanSubscribe:true CanPublishData:false CanPublishSources:[]}
}
