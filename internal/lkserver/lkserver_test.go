package lkserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/lkgate/lkgate"
	"github.com/pion/webrtc/v4"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func token(t *testing.T, room, identity string) string {
	t.Helper()
	at := auth.NewAccessToken(APIKey, APISecret).
		SetIdentity(identity).
		SetValidFor(time.Minute).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room})
	jwt, err := at.ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}

// eventually polls cond every 20 ms until it holds or 10 s have passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartServesAPI(t *testing.T) {
	begin := time.Now()
	s := Start(t)
	t.Logf("livekit-server ready after %v at %s", time.Since(begin).Round(time.Millisecond), s.URL)

	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", resp.StatusCode)
	}
	if !strings.HasPrefix(s.WSURL, "ws://127.0.0.1:") || strings.TrimPrefix(s.WSURL, "ws") != strings.TrimPrefix(s.URL, "http") {
		t.Errorf("WSURL %q does not match URL %q", s.WSURL, s.URL)
	}
	if s.APIKey != "devkey" || s.APISecret != "secretsecretsecretsecretsecretsecret" {
		t.Errorf("credentials = %q/%q", s.APIKey, s.APISecret)
	}

	rooms := lksdk.NewRoomServiceClient(s.URL, s.APIKey, s.APISecret)
	if _, err := rooms.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "start-api"}); err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	list, err := rooms.ListRooms(context.Background(), &livekit.ListRoomsRequest{})
	if err != nil {
		t.Fatalf("ListRooms: %v", err)
	}
	if len(list.Rooms) != 1 || list.Rooms[0].Name != "start-api" {
		t.Errorf("ListRooms = %v, want the one room start-api", list.Rooms)
	}
	if !strings.Contains(s.Logs(), `"version": "1.8.4"`) {
		t.Errorf("log does not show version 1.8.4:\n%s", s.Logs())
	}
}

func TestSharedIsReused(t *testing.T) {
	a := Shared(t)
	b := Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers within one test")
	}
	t.Run("subtest", func(t *testing.T) {
		if c := Shared(t); c != a {
			t.Fatal("Shared returned another server in a subtest")
		}
	})
}

func TestJoinPublishListParticipants(t *testing.T) {
	s := Shared(t)
	const room = "join-publish"
	r := s.Join(t, token(t, room, "alice"))
	pub := PublishAudio(t, r)

	rooms := lksdk.NewRoomServiceClient(s.URL, s.APIKey, s.APISecret)
	var alice *livekit.ParticipantInfo
	eventually(t, "alice with her track in ListParticipants", func() bool {
		res, err := rooms.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: room})
		if err != nil {
			t.Fatalf("ListParticipants: %v", err)
		}
		for _, p := range res.Participants {
			if p.Identity == "alice" && len(p.Tracks) == 1 {
				alice = p
				return true
			}
		}
		return false
	})
	tr := alice.Tracks[0]
	if tr.Sid != pub.SID() || tr.Type != livekit.TrackType_AUDIO || tr.Source != livekit.TrackSource_MICROPHONE || tr.Muted {
		t.Errorf("track = %v, want unmuted microphone audio %s", tr, pub.SID())
	}
}

// A subscriber receiving RTP proves the silence keeps flowing over loopback.
func TestPublishedAudioReachesSubscriber(t *testing.T) {
	s := Shared(t)
	const room = "media-flow"
	PublishAudio(t, s.Join(t, token(t, room, "speaker")))

	got := make(chan string, 1)
	cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			go func() {
				if _, _, err := track.ReadRTP(); err == nil {
					select {
					case got <- rp.Identity() + " " + track.Codec().MimeType:
					default:
					}
				}
			}()
		},
	}}
	s.JoinWithCallback(t, token(t, room, "listener"), cb, lksdk.WithAutoSubscribe(true))
	select {
	case g := <-got:
		if g != "speaker audio/opus" {
			t.Errorf("received %q, want speaker audio/opus", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no RTP packet from the published track within 10 s")
	}
}

func TestJoinCallbackSeesRemoval(t *testing.T) {
	s := Shared(t)
	const room = "callback-removal"
	disconnected := make(chan lksdk.DisconnectionReason, 1)
	s.JoinWithCallback(t, token(t, room, "bob"), &lksdk.RoomCallback{
		OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) { disconnected <- r },
	})
	rooms := lksdk.NewRoomServiceClient(s.URL, s.APIKey, s.APISecret)
	if _, err := rooms.RemoveParticipant(context.Background(), &livekit.RoomParticipantIdentity{Room: room, Identity: "bob"}); err != nil {
		t.Fatalf("RemoveParticipant: %v", err)
	}
	select {
	case r := <-disconnected:
		if r != lksdk.ParticipantRemoved {
			t.Errorf("disconnect reason = %v, want %v", r, lksdk.ParticipantRemoved)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnDisconnectedWithReason not called within 10 s")
	}
}

func TestStopEndsProcess(t *testing.T) {
	s := Start(t)
	pid := s.proc.Pid()
	host := strings.TrimPrefix(s.URL, "http://")

	begin := time.Now()
	s.Stop()
	t.Logf("stopped in %v", time.Since(begin).Round(time.Millisecond))
	s.Stop() // idempotent

	// Stop has reaped the child, so its pid no longer exists.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) = %v, want ESRCH", pid, err)
	}
	if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", host)
	}
	if state := s.proc.State(); !state.Exited() || state.ExitCode() != 0 {
		t.Errorf("server did not exit cleanly on SIGTERM: %v", state)
	}
}

func TestStartFailureReportsLog(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	o := options{yaml: []string{"port: " + strconv.Itoa(port)}}
	_, err = launch(t.TempDir(), false, o)
	if err == nil || !errors.Is(err, errPortTaken) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("launch on a taken port: %v", err)
	}
}

// orphanEnv makes the test binary start a server and die without stopping it.
const orphanEnv = "LKSERVER_TEST_ORPHAN"

func TestServerDiesWithTestBinary(t *testing.T) {
	if os.Getenv(orphanEnv) != "" {
		s := Start(t)
		fmt.Printf("orphan %d %s\n", s.proc.Pid(), s.URL)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	skipIfShort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithTestBinary$", "-test.v")
	cmd.Env = append(os.Environ(), orphanEnv+"=1")
	out, _ := cmd.Output() // dies of SIGKILL by design
	var pid int
	var u string
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(line, "orphan %d %s", &pid, &u); err == nil {
			break
		}
	}
	if pid == 0 {
		t.Fatalf("child printed no server pid:\n%s", out)
	}
	host := strings.TrimPrefix(u, "http://")
	eventually(t, "the orphaned server to die", func() bool {
		c, err := net.DialTimeout("tcp", host, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return false
		}
		// Gone, or a zombie waiting for init to reap it.
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(stat), ") Z ")
	})
}

func TestWebhookOption(t *testing.T) {
	events := make(chan *livekit.WebhookEvent, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := receiveWebhook(r)
		if err != nil {
			t.Errorf("webhook: %v", err)
			return
		}
		events <- ev
	}))
	defer hook.Close()

	s := Start(t, WithWebhook(hook.URL))
	s.Join(t, token(t, "hooked", "carol"))
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Event == "participant_joined" && ev.Room.GetName() == "hooked" && ev.Participant.GetIdentity() == "carol" {
				return
			}
		case <-deadline:
			t.Fatal("no signed participant_joined webhook within 10 s")
		}
	}
}

// Webhooks are on by default: a server started with no option posts them,
// signed, to the harness's receiver, which hands them to the test's
// handler.
func TestWebhooksOnByDefault(t *testing.T) {
	s := Start(t)
	if u, err := url.Parse(s.WebhookURL); err != nil || u.Host == "" || u.Path != WebhookPath {
		t.Fatalf("WebhookURL %q (%v), want the receiver's %s", s.WebhookURL, err, WebhookPath)
	}
	events := make(chan *livekit.WebhookEvent, 16)
	s.HandleWebhooks(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := receiveWebhook(r)
		if err != nil || r.URL.Path != WebhookPath {
			t.Errorf("webhook to %s: %v", r.URL.Path, err)
			return
		}
		events <- ev
	}))
	s.Join(t, token(t, "by-default", "dora"))
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Event == "participant_joined" && ev.Room.GetName() == "by-default" && ev.Participant.GetIdentity() == "dora" {
				return
			}
		case <-deadline:
			t.Fatal("no signed participant_joined webhook within 10 s")
		}
	}
}

// WithoutWebhooks configures no webhook at all, not even WithWebhook's.
func TestWithoutWebhooks(t *testing.T) {
	s := Start(t, WithoutWebhooks(), WithWebhook("http://127.0.0.1:1/hook"))
	raw, err := os.ReadFile(filepath.Join(s.dir, "livekit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var conf map[string]any
	if err := yaml.Unmarshal(raw, &conf); err != nil {
		t.Fatal(err)
	}
	if w, ok := conf["webhook"]; ok || s.WebhookURL != "" {
		t.Errorf("webhook configured: %v, WebhookURL %q", w, s.WebhookURL)
	}
}

// receiveWebhook verifies a webhook as protocol/webhook.Receive does (that
// package needs a module the project does not require): the Authorization JWT
// is signed with the dev key and carries the body's SHA-256.
func receiveWebhook(r *http.Request) (*livekit.WebhookEvent, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	v, err := auth.ParseAPIToken(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	if v.APIKey() != APIKey {
		return nil, errors.New("webhook signed with key " + v.APIKey())
	}
	_, claims, err := v.Verify(APISecret)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	if claims.Sha256 != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, errors.New("webhook body does not match its signed checksum")
	}
	var ev livekit.WebhookEvent
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &ev); err != nil {
		return nil, err
	}
	return &ev, nil
}

func TestYAMLOption(t *testing.T) {
	s := Start(t, WithYAML("room: {empty_timeout: 1}"))
	rooms := lksdk.NewRoomServiceClient(s.URL, s.APIKey, s.APISecret)
	room, err := rooms.CreateRoom(context.Background(), &livekit.CreateRoomRequest{Name: "short-lived"})
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	if room.EmptyTimeout != 1 {
		t.Errorf("EmptyTimeout = %d, want 1 from the YAML fragment", room.EmptyTimeout)
	}
}

func TestConfig(t *testing.T) {
	raw, err := config(ports{http: 1000, rtcTCP: 1001, rtcUDP: 1002}, options{
		webhooks: []string{"http://127.0.0.1:1/a", "http://127.0.0.1:1/b"},
		redis:    "127.0.0.1:6379",
		logLevel: "debug",
		yaml:     []string{"rtc: {tcp_port: 2001}\nroom: {empty_timeout: 3}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Port          int      `yaml:"port"`
		BindAddresses []string `yaml:"bind_addresses"`
		RTC           struct {
			TCPPort       int    `yaml:"tcp_port"`
			UDPPort       int    `yaml:"udp_port"`
			NodeIP        string `yaml:"node_ip"`
			UseExternalIP *bool  `yaml:"use_external_ip"`
		} `yaml:"rtc"`
		Keys    map[string]string `yaml:"keys"`
		Logging struct{ Level string }
		Webhook struct {
			APIKey string   `yaml:"api_key"`
			URLs   []string `yaml:"urls"`
		}
		Redis struct{ Address string }
		Room  struct {
			EmptyTimeout int `yaml:"empty_timeout"`
		}
	}
	if err := yaml.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	switch {
	case got.Port != 1000, len(got.BindAddresses) != 1 || got.BindAddresses[0] != "127.0.0.1":
		t.Errorf("port/bind = %d %v", got.Port, got.BindAddresses)
	case got.RTC.TCPPort != 2001 || got.RTC.UDPPort != 1002 || got.RTC.NodeIP != "127.0.0.1" || got.RTC.UseExternalIP == nil || *got.RTC.UseExternalIP:
		t.Errorf("rtc = %+v (tcp_port must come from the fragment)", got.RTC)
	case got.Keys[APIKey] != APISecret || got.Logging.Level != "debug":
		t.Errorf("keys/logging = %v %q", got.Keys, got.Logging.Level)
	case got.Webhook.APIKey != APIKey || len(got.Webhook.URLs) != 2:
		t.Errorf("webhook = %+v", got.Webhook)
	case got.Redis.Address != "127.0.0.1:6379" || got.Room.EmptyTimeout != 3:
		t.Errorf("redis/room = %q %d", got.Redis.Address, got.Room.EmptyTimeout)
	}

	if _, err := config(ports{}, options{yaml: []string{"rtc: ["}}); err == nil {
		t.Error("a malformed YAML fragment was accepted")
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv(BinEnv, filepath.Join(t.TempDir(), "no-such-livekit-server"))
	_, err := launch(t.TempDir(), false, options{})
	if err == nil || !strings.Contains(err.Error(), BinEnv) {
		t.Fatalf("launch with a missing binary: %v", err)
	}
}

func TestWrongVersionRefused(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "livekit-server")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho livekit-server version 1.9.0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinEnv, fake)
	_, err := launch(t.TempDir(), false, options{})
	if err == nil || !strings.Contains(err.Error(), `"livekit-server version 1.9.0"`) {
		t.Fatalf("launch with a 1.9.0 binary: %v", err)
	}
}

func TestRepoRootBinary(t *testing.T) {
	t.Setenv(BinEnv, "")
	p, err := binaryPath()
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("../..")
	if p != filepath.Join(root, ".bin", "livekit-server") {
		t.Errorf("binaryPath = %s, want under %s", p, root)
	}
}

// The SDK's join errors carry the token twice, once query-escaped: the
// harness redacts them with lkgate.Redact before failing a test.
func TestJoinErrorsAreRedacted(t *testing.T) {
	jwt := token(t, "r", "i")
	msg := "could not establish signal connection: GET ws://127.0.0.1:1/rtc?access_token=" + url.QueryEscape(jwt) + "&auto_subscribe=false: 401 (token " + jwt + ")"
	got := lkgate.Redact(msg)
	if strings.Contains(got, "eyJ") || strings.Contains(got, jwt[len(jwt)-20:]) {
		t.Fatalf("token survived redaction: %s", got)
	}
	if strings.Count(got, "[REDACTED]") != 2 || !strings.Contains(got, "&auto_subscribe=false: 401") {
		t.Errorf("Redact = %s", got)
	}
}
