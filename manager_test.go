package lkgate_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lkgate/lkgate"
)

const testSecret = "secretsecretsecretsecretsecretsecret"

func TestNewValidatesConfig(t *testing.T) {
	valid := lkgate.Config{URL: "http://127.0.0.1:7880", APIKey: "devkey", APISecret: testSecret}
	tests := []struct {
		name   string
		mutate func(*lkgate.Config)
		field  string
	}{
		{"missing URL", func(c *lkgate.Config) { c.URL = "" }, "URL"},
		{"bad scheme", func(c *lkgate.Config) { c.URL = "ftp://host" }, "URL"},
		{"no host", func(c *lkgate.Config) { c.URL = "http://" }, "URL"},
		{"unparsable", func(c *lkgate.Config) { c.URL = "http://[::1" }, "URL"},
		{"credentials in URL", func(c *lkgate.Config) { c.URL = "https://key:secret@lk.example" }, "URL"},
		{"query in URL", func(c *lkgate.Config) { c.URL = "https://lk.example/?x=1" }, "URL"},
		{"bad public URL", func(c *lkgate.Config) { c.PublicURL = "lk.example" }, "PublicURL"},
		{"missing key", func(c *lkgate.Config) { c.APIKey = "" }, "APIKey"},
		{"key with space", func(c *lkgate.Config) { c.APIKey = "dev key" }, "APIKey"},
		{"missing secret", func(c *lkgate.Config) { c.APISecret = "" }, "APISecret"},
		{"short secret", func(c *lkgate.Config) { c.APISecret = "tooshort" }, "APISecret"},
		{"negative TTL", func(c *lkgate.Config) { c.TokenTTL = -time.Second }, "TokenTTL"},
		{"TTL over max", func(c *lkgate.Config) { c.TokenTTL = 2 * time.Hour }, "TokenTTL"},
		{"negative max TTL", func(c *lkgate.Config) { c.MaxTokenTTL = -1 }, "MaxTokenTTL"},
		{"negative request timeout", func(c *lkgate.Config) { c.RequestTimeout = -1 }, "RequestTimeout"},
		{"negative breaker failures", func(c *lkgate.Config) { c.BreakerFailures = -1 }, "BreakerFailures"},
		{"negative breaker open time", func(c *lkgate.Config) { c.BreakerOpenFor = -1 }, "BreakerOpenFor"},
		{"negative room timeout", func(c *lkgate.Config) { c.Room.EmptyTimeout = -time.Second }, "Room"},
		{"unknown policy", func(c *lkgate.Config) { c.UnownedRooms = 7 }, "UnownedRooms"},
		{"unknown naming", func(c *lkgate.Config) { c.RoomNames = 7 }, "RoomNames"},
		// What applies to one naming only is refused under the other.
		{"scoped names with DenyUnowned", func(c *lkgate.Config) { c.UnownedRooms = lkgate.DenyUnowned }, "UnownedRooms"},
		{"scoped names with a lease store", func(c *lkgate.Config) { c.Leases = lkgate.NewMemoryLeaseStore(nil) }, "Leases"},
		{"shared names with PrecreateRooms", func(c *lkgate.Config) { c.RoomNames, c.PrecreateRooms = lkgate.SharedNames, true }, "PrecreateRooms"},
		{"sweep interval too short", func(c *lkgate.Config) {
			c.RoomNames, c.LeaseSweepInterval = lkgate.SharedNames, 999*time.Millisecond
		}, "LeaseSweepInterval"},
		{"sweep interval too long", func(c *lkgate.Config) {
			c.RoomNames, c.LeaseSweepInterval = lkgate.SharedNames, 5*time.Minute+time.Second
		}, "LeaseSweepInterval"},
		{"negative sweep interval", func(c *lkgate.Config) { c.LeaseSweepInterval = -time.Second }, "LeaseSweepInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			_, err := lkgate.New(cfg)
			if !errors.Is(err, lkgate.ErrInvalidArgument) {
				t.Fatalf("New = %v, want ErrInvalidArgument", err)
			}
			var e *lkgate.Error
			if !errors.As(err, &e) || e.Field != tt.field {
				t.Fatalf("error %v names field %q, want %q", err, e.Field, tt.field)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
	if _, err := lkgate.New(valid); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, mutate := range map[string]func(*lkgate.Config){
		"scoped names, precreated": func(c *lkgate.Config) { c.PrecreateRooms = true },
		"shared names, all options": func(c *lkgate.Config) {
			c.RoomNames, c.UnownedRooms, c.Leases = lkgate.SharedNames, lkgate.DenyUnowned, lkgate.NewMemoryLeaseStore(nil)
			c.LeaseSweepInterval = time.Second
		},
		"shared names, longest sweep interval": func(c *lkgate.Config) { c.RoomNames, c.LeaseSweepInterval = lkgate.SharedNames, 5*time.Minute },
	} {
		cfg := valid
		cfg.URL = "http://127.0.0.1:1" // the lease sweeper's one ListRooms reaches nothing
		mutate(&cfg)
		m, err := lkgate.New(cfg)
		if err != nil {
			t.Errorf("%s: valid config refused: %v", name, err)
			continue
		}
		m.Close()
	}
}

func TestPublicURL(t *testing.T) {
	tests := []struct{ url, public, want string }{
		{"http://127.0.0.1:7880", "", "ws://127.0.0.1:7880"},
		{"https://lk.example", "", "wss://lk.example"},
		{"wss://lk.example", "", "wss://lk.example"},
		{"http://livekit.internal:7880", "wss://rtc.example.com", "wss://rtc.example.com"},
	}
	for _, tt := range tests {
		m, err := lkgate.New(lkgate.Config{URL: tt.url, PublicURL: tt.public, APIKey: "k", APISecret: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.PublicURL(); got != tt.want {
			t.Errorf("PublicURL(%q, %q) = %q, want %q", tt.url, tt.public, got, tt.want)
		}
	}
}
