// The lkgate demo page: a host signs in with an API key and runs a room
// through lkgate's API; a guest (/join?invite_token=...) waits in its lobby
// until the host admits it. Everything privileged goes through lkgate: the
// page never sees LiveKit credentials.
import { Room, RoomEvent, TokenSource, Track } from "/demo/livekit-client.esm.mjs";

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };
const { api } = await (await fetch("/demo/config.json")).json();

// call sends a request to lkgate's API and throws its problem detail.
async function call(key, method, path, body) {
  const res = await fetch(api + path, {
    method,
    headers: { ...(key ? { Authorization: "Bearer " + key } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`${data.code}: ${data.detail || data.title}`);
  return data;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.onclick = () => onClick().catch((e) => status(e.message));
  return b;
}

// showVideos attaches every subscribed video track of room to #videos.
function showVideos(room) {
  room.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
    if (track.kind !== Track.Kind.Video) return;
    const el = track.attach();
    el.dataset.identity = participant.identity;
    $("videos").append(el);
  });
  room.on(RoomEvent.TrackUnsubscribed, (track) => track.detach().forEach((el) => el.remove()));
}

// ---- host ----------------------------------------------------------------

async function host() {
  $("host").hidden = false;
  status("Sign in with an API key.");
  let room, key, roomName, timer;

  // refresh redraws the participants and the waiting guests, and returns
  // the room's details.
  async function refresh() {
    const details = await call(key, "GET", "/livekit/rooms/" + encodeURIComponent(roomName));
    $("participants").replaceChildren(...details.participants.map((p) => {
      const li = document.createElement("li");
      li.dataset.identity = p.identity;
      li.textContent = `${p.name || p.identity} (${p.identity}) `;
      for (const t of p.tracks) {
        li.append(button(`${t.muted ? "Unmute" : "Mute"} ${t.source}`, async () => {
          await call(key, "POST", "/livekit/participant/mute",
            { room_name: roomName, participant_identity: p.identity, track_sid: t.sid, muted: !t.muted });
          await refresh();
        }));
      }
      if (p.identity !== room.localParticipant.identity) {
        li.append(button("Remove", async () => {
          await call(key, "DELETE", "/livekit/participant", { room_name: roomName, participant_identity: p.identity });
          await refresh();
        }));
      }
      return li;
    }));
    const { guests } = await call(key, "GET", "/livekit/guest/waiting?roomId=" + encodeURIComponent(roomName));
    $("waiting").replaceChildren(...guests.map((g) => {
      const li = document.createElement("li");
      li.dataset.identity = g.identity;
      li.textContent = `${g.name} (waiting since ${new Date(g.since).toLocaleTimeString()}) `;
      for (const action of ["admit", "deny"]) {
        li.append(button(action === "admit" ? "Admit" : "Deny", async () => {
          await call(key, "POST", "/livekit/guest/admit", { roomId: roomName, guestIdentity: g.identity, action });
          await refresh();
        }));
      }
      return li;
    }));
    return details;
  }

  $("signin").onsubmit = async (ev) => {
    ev.preventDefault();
    key = $("apikey").value.trim();
    roomName = $("room").value.trim();
    try {
      status("Fetching a token…");
      // LiveKit's standard token endpoint format, served by lkgate's token route.
      const source = TokenSource.endpoint(api + "/livekit/token", { headers: { Authorization: "Bearer " + key } });
      const { serverUrl, participantToken } = await source.fetch({ roomName, participantName: $("name").value.trim() });
      room = new Room();
      showVideos(room);
      await room.connect(serverUrl, participantToken);
      await room.localParticipant.enableCameraAndMicrophone();
      $("signin").hidden = true;
      $("inroom").hidden = false;
      // room.name is LiveKit's name for the room, which carries the tenant
      // (lkgate's scoped names): show the name lkgate's API answers.
      const details = await refresh();
      status(`Joined ${details.name} as ${room.localParticipant.identity}`);
      timer = setInterval(() => refresh().catch((e) => status(e.message)), 1000);
    } catch (e) {
      status("Could not join: " + e.message);
    }
  };

  $("invite").onclick = async () => {
    try {
      // The token's lkgate.tenant attribute names the caller's tenant, the invite's org.
      const orgId = room.localParticipant.attributes["lkgate.tenant"];
      const inv = await call(key, "POST", "/livekit/guest/invite", { orgId, roomId: roomName, allowAll: true });
      $("invitelink").href = inv.inviteUrl;
      $("invitelink").textContent = inv.inviteUrl;
    } catch (e) {
      status("Could not invite: " + e.message);
    }
  };

  $("leave").onclick = async () => {
    clearInterval(timer);
    await room.disconnect();
    location.reload();
  };
}

// ---- guest ---------------------------------------------------------------

async function guest() {
  $("guest").hidden = false;
  const inviteToken = new URLSearchParams(location.search).get("invite_token");
  if (!inviteToken) {
    status("This invite link has no invite token.");
    return;
  }
  status("Enter your name to ask to join.");

  async function enter(msg) {
    const room = new Room();
    showVideos(room);
    const list = () => $("guestparticipants").replaceChildren(...[room.localParticipant, ...room.remoteParticipants.values()].map((p) => {
      const li = document.createElement("li");
      li.dataset.identity = p.identity;
      li.textContent = p.name || p.identity;
      return li;
    }));
    room.on(RoomEvent.ParticipantConnected, list).on(RoomEvent.ParticipantDisconnected, list);
    room.on(RoomEvent.Disconnected, () => status("You have left the room."));
    await room.connect(msg.url, msg.token);
    await room.localParticipant.enableCameraAndMicrophone();
    $("guestroomtitle").hidden = false;
    list();
    status(`In the room ${msg.room}`); // lkgate's name for it, not room.name
  }

  $("guestform").onsubmit = async (ev) => {
    ev.preventDefault();
    try {
      const auth = await call("", "POST", "/livekit/guest/room-auth", { inviteToken, guestName: $("guestname").value.trim() });
      const lobby = new Room();
      let decided = false;
      // Admission arrives as the guest's own participant attribute.
      const decide = async (value) => {
        if (decided || !value) return;
        decided = true;
        const msg = JSON.parse(value);
        await lobby.disconnect();
        if (msg.type === "admit") await enter(msg);
        else status("The host declined your request.");
      };
      lobby.on(RoomEvent.ParticipantAttributesChanged, (changed, participant) => {
        if (participant === lobby.localParticipant && auth.admissionAttribute in changed) {
          decide(changed[auth.admissionAttribute]).catch((e) => status(e.message));
        }
      });
      lobby.on(RoomEvent.Disconnected, () => { if (!decided) status("The host declined your request."); });
      await lobby.connect(auth.livekitUrl, auth.livekitToken);
      $("guestform").hidden = true;
      status(`Waiting in the lobby as ${auth.guestName}…`);
      await decide(lobby.localParticipant.attributes[auth.admissionAttribute]); // admitted while connecting
    } catch (e) {
      status("Could not join: " + e.message);
    }
  };
}

if (location.pathname === "/join") await guest();
else await host();
