// The lkgate demo page: people sign in as the server's demo users and run
// a room through lkgate's API; a guest (/join?invite_token=...) waits in
// its lobby until a host admits it. The browser holds no API key and no
// LiveKit credential: the server keeps the session behind an HttpOnly
// cookie, and lkgate's API answers with that user's permissions (a member
// may only join; a host may also moderate, invite and admit).
import { Room, RoomEvent, TokenSource, Track } from "/demo/livekit-client.esm.mjs";

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };
const { api } = await (await fetch("/demo/config.json")).json();

// call sends a JSON request (the session cookie goes along, same-origin)
// and throws its problem's code and detail.
async function call(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? {} : await res.json();
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

// ---- members (hosts and members) ----------------------------------------

async function member() {
  $("member").hidden = false;
  let me, room, roomName, timer;
  const can = (permission) => me.permissions.includes(permission);

  const signedIn = (session) => {
    me = session;
    $("signin").hidden = true;
    $("joinform").hidden = false;
    $("whoami").textContent = `Signed in as ${me.user} (${me.tenant}), may: ${me.permissions.join(", ")}`;
    status("Choose a room and join.");
  };
  try {
    signedIn(await call("GET", "/demo/session"));
  } catch {
    $("signin").hidden = false;
    status("Sign in.");
  }

  const li = (identity, text) => {
    const el = document.createElement("li");
    el.dataset.identity = identity;
    el.textContent = text + " ";
    return el;
  };

  // participants lists the room: with the rooms permission through
  // lkgate's room route (tracks, and buttons where the user may moderate),
  // otherwise as livekit-client sees it.
  async function participants() {
    if (!can("rooms")) {
      const all = [room.localParticipant, ...room.remoteParticipants.values()];
      $("participants").replaceChildren(...all.map((p) => li(p.identity, `${p.name || p.identity} (${p.identity})`)));
      return roomName;
    }
    const details = await call("GET", `${api}/livekit/rooms/${encodeURIComponent(roomName)}`);
    $("participants").replaceChildren(...details.participants.map((p) => {
      const el = li(p.identity, `${p.name || p.identity} (${p.identity})`);
      if (!can("moderate")) return el;
      for (const t of p.tracks) {
        el.append(button(`${t.muted ? "Unmute" : "Mute"} ${t.source}`, async () => {
          await call("POST", api + "/livekit/participant/mute",
            { room_name: roomName, participant_identity: p.identity, track_sid: t.sid, muted: !t.muted });
          await refresh();
        }));
      }
      if (p.identity !== room.localParticipant.identity) {
        el.append(button("Remove", async () => {
          await call("DELETE", api + "/livekit/participant", { room_name: roomName, participant_identity: p.identity });
          await refresh();
        }));
      }
      return el;
    }));
    return details.name;
  }

  // refresh redraws the participants and, for hosts, the waiting guests,
  // and returns the room's name as lkgate answers it.
  async function refresh() {
    const name = await participants();
    if (can("guests")) {
      const { guests } = await call("GET", `${api}/livekit/guest/waiting?roomId=${encodeURIComponent(roomName)}`);
      $("waiting").replaceChildren(...guests.map((g) => {
        const el = li(g.identity, `${g.name} (waiting since ${new Date(g.since).toLocaleTimeString()})`);
        for (const action of ["admit", "deny"]) {
          el.append(button(action === "admit" ? "Admit" : "Deny", async () => {
            await call("POST", api + "/livekit/guest/admit", { roomId: roomName, guestIdentity: g.identity, action });
            await refresh();
          }));
        }
        return el;
      }));
    }
    return name;
  }

  $("signin").onsubmit = async (ev) => {
    ev.preventDefault();
    try {
      signedIn(await call("POST", "/demo/session", { user: $("user").value.trim(), password: $("password").value }));
      $("password").value = "";
    } catch (e) {
      status("Could not sign in: " + e.message);
    }
  };

  $("signout").onclick = async () => {
    await call("DELETE", "/demo/session");
    location.reload();
  };

  $("joinform").onsubmit = async (ev) => {
    ev.preventDefault();
    roomName = $("room").value.trim();
    try {
      status("Fetching a token…");
      // LiveKit's standard token endpoint format, served by lkgate's token
      // route; the session cookie authenticates it, no header needed.
      const source = TokenSource.endpoint(api + "/livekit/token");
      const { serverUrl, participantToken } = await source.fetch({ roomName, participantName: $("name").value.trim() });
      room = new Room();
      showVideos(room);
      await room.connect(serverUrl, participantToken);
      await room.localParticipant.enableCameraAndMicrophone();
      $("joinform").hidden = true;
      $("inroom").hidden = false;
      $("guestcontrols").hidden = !can("guests");
      $("waitingsection").hidden = !can("guests");
      // room.name is LiveKit's name for the room, which carries the tenant
      // (lkgate's scoped names): show the name lkgate's API answers.
      const name = await refresh();
      status(`Joined ${name} as ${room.localParticipant.identity}`);
      timer = setInterval(() => refresh().catch((e) => status(e.message)), 1000);
    } catch (e) {
      status("Could not join: " + e.message);
    }
  };

  $("invite").onclick = async () => {
    try {
      const inv = await call("POST", api + "/livekit/guest/invite", { orgId: me.tenant, roomId: roomName, allowAll: true });
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
      const auth = await call("POST", api + "/livekit/guest/room-auth", { inviteToken, guestName: $("guestname").value.trim() });
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
else await member();
