package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// naiveHandler is the reference: the token flow of a typical wrapper. Every
// request lists the room, creates it, lists it again, writes the owner into
// its metadata, then mints with protocol's AccessToken: four LiveKit round
// trips, no lock, no coalescing.
type naiveHandler struct {
	rooms            *lksdk.RoomServiceClient
	key, secret, url string
}

func (n *naiveHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+apiKey {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var req struct {
		RoomName            string `json:"room_name"`
		ParticipantIdentity string `json:"participant_identity"`
		ParticipantName     string `json:"participant_name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.RoomName == "" || req.ParticipantIdentity == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	if _, err := n.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{req.RoomName}}); err != nil {
		http.Error(w, "livekit", http.StatusBadGateway)
		return
	}
	if _, err := n.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: req.RoomName}); err != nil {
		http.Error(w, "livekit", http.StatusBadGateway)
		return
	}
	listed, err := n.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{req.RoomName}})
	if err != nil || len(listed.Rooms) != 1 {
		http.Error(w, "livekit", http.StatusBadGateway)
		return
	}
	var md map[string]any
	if json.Unmarshal([]byte(listed.Rooms[0].Metadata), &md) != nil || md == nil {
		md = map[string]any{}
	}
	if owner, ok := md["auth_id"]; ok && owner != "acme" {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	md["auth_id"] = "acme"
	metadata, _ := json.Marshal(md)
	if _, err := n.rooms.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: req.RoomName, Metadata: string(metadata)}); err != nil {
		http.Error(w, "livekit", http.StatusBadGateway)
		return
	}
	tok, err := auth.NewAccessToken(n.key, n.secret).SetIdentity(req.ParticipantIdentity).SetName(req.ParticipantName).
		SetValidFor(10 * time.Minute).SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: req.RoomName}).ToJWT()
	if err != nil {
		http.Error(w, "mint", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "room_name": req.RoomName, "participant_identity": req.ParticipantIdentity, "livekit_url": n.url})
}
