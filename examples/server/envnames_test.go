package main

import (
	"encoding/base64"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// Every bad value lkgate.New refuses is reported under the variable it was
// read from (and the list entry), not the lkgate.Config field alone.
func TestLkgateErrorsNameTheVariable(t *testing.T) {
	key := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"URL scheme", map[string]string{"LIVEKIT_URL": "ftp://127.0.0.1:7880"}, "LIVEKIT_URL: scheme"},
		{"URL credentials", map[string]string{"LIVEKIT_URL": "http://u:p@127.0.0.1:7880"}, "LIVEKIT_URL: must not carry credentials"},
		{"public URL", map[string]string{"LIVEKIT_PUBLIC_URL": "wss://rtc.example/?x=1"}, "LIVEKIT_PUBLIC_URL: must not have a query"},
		{"API key", map[string]string{"LIVEKIT_API_KEY": "dev key"}, "LIVEKIT_API_KEY: must not contain spaces"},
		{"short secret", map[string]string{"LIVEKIT_API_SECRET": "hunter2"}, "LIVEKIT_API_SECRET: is 7 bytes long"},
		{"short invite key", map[string]string{"LKGATE_INVITE_KEYS": "k1=" + key(32) + ",k2=" + key(16), "LKGATE_INVITE_BASE_URL": "https://app.example"},
			"LKGATE_INVITE_KEYS: entry 2: Key is 16 bytes long"},
		{"invite key id twice", map[string]string{"LKGATE_INVITE_KEYS": "k1=" + key(32) + ",k1=" + key(32), "LKGATE_INVITE_BASE_URL": "https://app.example"},
			"LKGATE_INVITE_KEYS: entry 2: ID"},
		{"invite keys without base URL", map[string]string{"LKGATE_INVITE_KEYS": "k1=" + key(32)}, "LKGATE_INVITE_BASE_URL:"},
		{"invite base URL scheme", map[string]string{"LKGATE_INVITE_KEYS": "k1=" + key(32), "LKGATE_INVITE_BASE_URL": "ftp://app.example"}, "LKGATE_INVITE_BASE_URL: scheme"},
		{"invite base URL without keys", map[string]string{"LKGATE_INVITE_BASE_URL": "https://app.example"}, "LKGATE_INVITE_BASE_URL is set without LKGATE_INVITE_KEYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := validEnv()
			for k, v := range tt.set {
				vars[k] = v
			}
			cfg, err := configFromEnv(env(vars))
			if err == nil {
				var closer interface{ Close() error }
				if _, closer, err = newMux(cfg, slog.New(slog.DiscardHandler)); err == nil {
					closer.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// A listen error names LKGATE_ADDR.
func TestListenErrorNamesTheVariable(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, addr := range []string{taken.Addr().String(), "127.0.0.1:99999"} {
		for k, v := range validEnv() {
			t.Setenv(k, v)
		}
		t.Setenv("LKGATE_ADDR", addr)
		if err := run(slog.New(slog.DiscardHandler)); err == nil || !strings.HasPrefix(err.Error(), "LKGATE_ADDR: ") {
			t.Errorf("LKGATE_ADDR=%s: %v, want an error naming LKGATE_ADDR", addr, err)
		}
	}
}
