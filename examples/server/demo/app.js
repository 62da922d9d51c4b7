// The lkgate demo page: people sign in as the server's demo users and run
// a room through lkgate's API; a guest (/join?invite_token=...) waits in
// its lobby until a host admits it. The browser holds no API key and no
// LiveKit credential: the server keeps the session behind an HttpOnly
// cookie, and lkgate's API answers with that user's permissions (a member
// may only join; a host may also moderate, invite and admit).
//
// The page has four views (main's data-view): sign-in, join, the room (a
// video grid, the participants panel and, for hosts, the waiting room and
// invite panels) and, for guests, the invite's own card (ask, waiting,
// denied, left, or the invalid and failed links).
import { createLocalVideoTrack, DisconnectReason, Room, RoomEvent, TokenSource, Track } from "/demo/livekit-client.esm.mjs";

const $ = (id) => document.getElementById(id);
// The server says where it mounted lkgate's API (LKGATE_PREFIX): "" at the
// root, the prefix otherwise.
const { api } = await (await fetch("/demo/config.json")).json();

// ---- page helpers ---------------------------------------------------------

// status announces text to screen readers; errors are also shown.
function status(text, kind = "info") {
  const s = $("status");
  s.textContent = text;
  s.dataset.kind = kind;
}

// The guest card's part of each guest view.
const guestViews = { ask: "guestform", waiting: "lobby", denied: "outcome", left: "outcome", invalid: "outcome", failed: "outcome" };

// show switches the view and moves the focus to its heading, where a
// screen reader starts reading.
function show(view, { title, focus } = {}) {
  $("main").dataset.view = view;
  const section = { signin: "signin-view", join: "join-view", room: "room-view" }[view] ?? "guest-view";
  for (const id of ["signin-view", "join-view", "guest-view", "room-view"]) $(id).hidden = id !== section;
  for (const id of ["guestform", "lobby", "outcome"]) $(id).hidden = guestViews[view] !== id;
  if (title) $("guest-title").textContent = title;
  $(focus ?? section.replace("-view", "-title"))?.focus();
}

// el builds an element with attributes and children.
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children);
  return e;
}

const icons = {
  mic: '<path d="M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3z"/><path d="M19 10v2a7 7 0 0 1-14 0v-2M12 19v3"/>',
  camera: '<rect x="2" y="6" width="14" height="12" rx="2"/><path d="m22 8-6 4 6 4z"/>',
  screen: '<rect x="2" y="3" width="20" height="14" rx="2"/><path d="M8 21h8M12 17v4"/>',
  leave: '<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9"/>',
};
const sourceIcon = { microphone: "mic", camera: "camera", screen_share: "screen", screen_share_audio: "screen" };
const trackOrder = ["microphone", "camera", "screen_share", "screen_share_audio"];
const sourceLabel = { microphone: "Microphone", camera: "Camera", screen_share: "Screen", screen_share_audio: "Screen audio" };

// icon is a decorative SVG; off strikes it through.
function icon(name, off = false) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  svg.innerHTML = (icons[name] ?? icons.mic) + (off ? '<path d="M3 3l18 18"/>' : "");
  return svg;
}

function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return (words.length ? words.slice(0, 2).map((w) => [...w][0]).join("") : "?").toUpperCase();
}

// avatar shows a person's initials in a colour of its identity.
function avatar(name, identity, size = "") {
  let h = 0;
  for (const c of identity) h = (h * 31 + c.codePointAt(0)) % 360;
  return el("span", { class: `avatar ${size}`, "aria-hidden": "true", style: `--hue:${h}` }, initials(name));
}

// button makes an action button: busy while onClick runs, its error
// shown. key names it across redraws of its list (see redraw).
function button(text, { label, key, testid, cls = "" }, onClick) {
  const b = el("button", { type: "button", class: `btn ${cls}`, "aria-label": label, "data-key": key, "data-testid": testid }, text);
  b.onclick = async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (e) {
      status(e.message, "error");
    } finally {
      b.disabled = false;
    }
  };
  return b;
}

// redraw replaces list's items when their data (signature) changed. The
// lists refresh every second: a redraw keeps the focus on the control of
// the same key, or on the panel's heading when the control is gone, so a
// keyboard user keeps its place.
function redraw(list, signature, build) {
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  const key = list.contains(document.activeElement) ? document.activeElement.dataset.key : undefined;
  list.replaceChildren(...build());
  if (key !== undefined) {
    (list.querySelector(`[data-key="${CSS.escape(key)}"]`) ?? list.closest("section").querySelector("h2")).focus();
  }
}

// call sends a JSON request (the session cookie goes along, same-origin)
// and throws its problem's code and detail.
async function call(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? {} : await res.json();
  if (!res.ok) throw new Error(`${data.detail || data.title} (${data.code})`);
  return data;
}

const displayName = (p) => p.name || p.identity;
// Guests' identities are lkgate's (lkgate.GuestIdentityPrefix).
const isGuest = (identity) => identity.startsWith("guest-");

// ---- the room ---------------------------------------------------------------

// videoGrid keeps #videos in step with room: one tile per participant's
// camera (its initials while the camera is off) and one per other video
// track, the local participant first; remote audio plays from #audio.
function videoGrid(room) {
  const tiles = new Map(); // key → { fig, caption, video, track }
  const audio = new Map(); // track sid → { el, track }

  const attach = (t, track, mirror) => {
    if (t.track === track) return;
    if (t.track) {
      t.track.detach(t.video);
      t.video.remove();
    }
    t.track = track;
    t.video = null;
    if (track) {
      t.video = track.attach();
      t.video.muted = true; // sound comes from #audio
      t.video.classList.toggle("mirror", mirror);
      t.fig.prepend(t.video);
    }
  };

  function render() {
    const people = [room.localParticipant, ...[...room.remoteParticipants.values()].sort((a, b) => (a.joinedAt ?? 0) - (b.joinedAt ?? 0))];
    const order = [];
    const keys = new Set();
    const sounds = new Set();
    for (const p of people) {
      const pubs = [...p.trackPublications.values()];
      const camera = pubs.find((pub) => pub.source === Track.Source.Camera);
      const others = pubs.filter((pub) => pub.kind === Track.Kind.Video && pub !== camera);
      const mic = pubs.find((pub) => pub.source === Track.Source.Microphone);
      const micOn = Boolean(mic && !mic.isMuted);
      for (const [key, pub] of [[`${p.identity}/camera`, camera], ...others.map((pub) => [`${p.identity}/${pub.trackSid}`, pub])]) {
        const source = pub?.source ?? Track.Source.Camera;
        let t = tiles.get(key);
        if (!t) {
          const name = displayName(p);
          const caption = el("figcaption");
          const fig = el("figure", { class: "tile", "data-testid": "video-tile", "data-identity": p.identity, "data-source": source, "data-local": p.isLocal },
            el("div", { class: "tile-off" }, avatar(name, p.identity, "big")), caption);
          t = { fig, caption };
          tiles.set(key, t);
        }
        const track = pub?.track && !pub.isMuted ? pub.track : null;
        attach(t, track, p.isLocal && source === Track.Source.Camera);
        t.fig.dataset.video = track ? "on" : "off";
        t.fig.classList.toggle("speaking", p.isSpeaking);
        const label = displayName(p) + (p.isLocal ? " (you)" : "") + (source === Track.Source.Camera ? "" : ` · ${sourceLabel[source] ?? source}`);
        const sig = `${label}|${micOn}`;
        if (t.caption.dataset.signature !== sig) {
          t.caption.dataset.signature = sig;
          t.caption.replaceChildren(el("span", { class: "tile-name" }, label),
            ...(micOn ? [] : [icon("mic", true), el("span", { class: "sr-only" }, ", microphone off")]));
        }
        order.push(t.fig);
        keys.add(key);
      }
      if (p.isLocal) continue;
      for (const pub of pubs) {
        if (pub.kind !== Track.Kind.Audio || !pub.track) continue;
        sounds.add(pub.trackSid);
        if (!audio.has(pub.trackSid)) {
          const a = pub.track.attach();
          audio.set(pub.trackSid, { el: a, track: pub.track });
          $("audio").append(a);
        }
      }
    }
    for (const [key, t] of tiles) {
      if (keys.has(key)) continue;
      attach(t, null, false);
      t.fig.remove();
      tiles.delete(key);
    }
    for (const [sid, a] of audio) {
      if (sounds.has(sid)) continue;
      a.track.detach(a.el);
      a.el.remove();
      audio.delete(sid);
    }
    const grid = $("videos");
    if (grid.children.length !== order.length || order.some((fig, i) => grid.children[i] !== fig)) grid.replaceChildren(...order);
    grid.dataset.count = order.length;
    $("room-count").textContent = people.length === 1 ? "Only you" : `${people.length} people`;
  }

  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      if (room.state !== "disconnected") render();
    });
  };
  for (const ev of [RoomEvent.TrackSubscribed, RoomEvent.TrackUnsubscribed, RoomEvent.TrackMuted, RoomEvent.TrackUnmuted,
    RoomEvent.TrackPublished, RoomEvent.TrackUnpublished, RoomEvent.LocalTrackPublished, RoomEvent.LocalTrackUnpublished,
    RoomEvent.ParticipantConnected, RoomEvent.ParticipantDisconnected, RoomEvent.ActiveSpeakersChanged, RoomEvent.ParticipantNameChanged]) {
    room.on(ev, schedule);
  }
  render();
  return () => {
    for (const t of tiles.values()) attach(t, null, false);
    for (const a of audio.values()) a.track.detach(a.el);
    tiles.clear();
    audio.clear();
    $("videos").replaceChildren();
    $("audio").replaceChildren();
  };
}

// localControls wires the microphone and camera buttons to the local
// participant; a host's mute shows here too.
function localControls(room) {
  const lp = room.localParticipant;
  const sync = () => {
    const mic = lp.isMicrophoneEnabled;
    const cam = lp.isCameraEnabled;
    $("mic").replaceChildren(icon("mic", !mic), mic ? "Mute" : "Unmute");
    $("mic").setAttribute("aria-label", mic ? "Mute microphone" : "Unmute microphone");
    $("mic").dataset.on = mic;
    $("camera").replaceChildren(icon("camera", !cam), cam ? "Stop video" : "Start video");
    $("camera").dataset.on = cam;
  };
  const toggle = (b, set) => async () => {
    b.disabled = true;
    try {
      await set();
    } catch (e) {
      status(e.message, "error");
    } finally {
      b.disabled = false;
      sync();
    }
  };
  $("mic").onclick = toggle($("mic"), () => lp.setMicrophoneEnabled(!lp.isMicrophoneEnabled));
  $("camera").onclick = toggle($("camera"), () => lp.setCameraEnabled(!lp.isCameraEnabled));
  $("leave").replaceChildren(icon("leave"), "Leave");
  $("leave").onclick = () => room.disconnect();
  $("startaudio").onclick = () => room.startAudio().then(() => { $("startaudio").hidden = true; });
  room.on(RoomEvent.AudioPlaybackStatusChanged, () => { $("startaudio").hidden = room.canPlaybackAudio; });
  for (const ev of [RoomEvent.LocalTrackPublished, RoomEvent.LocalTrackUnpublished, RoomEvent.TrackMuted, RoomEvent.TrackUnmuted]) room.on(ev, sync);
  sync();
}

// participantItem is one participant of the panel, with its tracks and,
// for a host (moderate), the controls to mute a track and to remove it.
function participantItem(p, { self, moderate, roomName, refresh }) {
  const name = displayName(p);
  const head = el("div", { class: "person-name" }, el("span", {}, name));
  if (self) head.append(el("span", { class: "badge" }, "You"));
  if (isGuest(p.identity)) head.append(el("span", { class: "badge guest" }, "Guest"));
  const tracks = el("ul", { class: "tracks", "aria-label": `Tracks of ${name}` });
  for (const t of p.tracks) {
    const label = sourceLabel[t.source] ?? t.source;
    const row = el("li", { class: "track", "data-testid": "track", "data-source": t.source, "data-muted": String(t.muted) },
      icon(sourceIcon[t.source] ?? "camera", t.muted), el("span", {}, label), el("span", { class: `state ${t.muted ? "off" : "on"}` }, t.muted ? "muted" : "on"));
    // LiveKit lets a host mute a track, not unmute it (room.enable_remote_unmute).
    if (moderate && !self && !t.muted) {
      row.append(button("Mute", { label: `Mute ${label.toLowerCase()} of ${name}`, key: `mute/${p.identity}/${t.sid}`, testid: "mute-track", cls: "small" }, async () => {
        await call("POST", api + "/livekit/participant/mute", { room_name: roomName, participant_identity: p.identity, track_sid: t.sid, muted: true });
        status(`Muted the ${label.toLowerCase()} of ${name}.`);
        await refresh();
      }));
    }
    tracks.append(row);
  }
  if (p.tracks.length === 0) tracks.append(el("li", { class: "track none" }, "No tracks"));
  const top = el("div", { class: "person-top" }, head);
  if (moderate && !self) {
    top.append(button("Remove", { label: `Remove ${name} from the room`, key: `remove/${p.identity}`, testid: "remove-participant", cls: "small danger" }, async () => {
      await call("DELETE", api + "/livekit/participant", { room_name: roomName, participant_identity: p.identity });
      status(`Removed ${name} from the room.`);
      await refresh();
    }));
  }
  return el("li", { class: "person", "data-testid": "participant", "data-identity": p.identity },
    avatar(name, p.identity), el("div", { class: "person-main" }, top, el("div", { class: "identity", title: p.identity }, p.identity), tracks));
}

// waitingItem is one guest of the waiting room, with admit and deny.
function waitingItem(g, { roomName, refresh }) {
  const since = new Date(g.since).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const decide = (action, text) => button(text, { label: `${text} ${g.name}`, key: `${action}/${g.identity}`, testid: action, cls: action === "admit" ? "small primary" : "small" }, async () => {
    await call("POST", api + "/livekit/guest/admit", { roomId: roomName, guestIdentity: g.identity, action });
    status(action === "admit" ? `Let ${g.name} in.` : `Declined ${g.name}.`);
    await refresh();
  });
  return el("li", { class: "person", "data-testid": "waiting-guest", "data-identity": g.identity },
    avatar(g.name, g.identity),
    el("div", { class: "person-main" }, el("div", { class: "person-name" }, g.name), el("div", { class: "identity" }, `asked at ${since}`)),
    el("div", { class: "actions" }, decide("admit", "Admit"), decide("deny", "Deny")));
}

// enterRoom shows room, connected: the grid, the participants (through
// lkgate's room route where the user may read rooms, else as
// livekit-client sees them) and, for hosts, the waiting room and invites.
// onEnd runs once the room disconnects, with LiveKit's reason.
function enterRoom(room, roomName, { rooms = false, moderate = false, guests = false, onEnd }) {
  $("room-title").textContent = roomName;
  $("waiting-panel").hidden = !guests;
  $("invite-panel").hidden = !guests;
  $("invite-result").hidden = true;
  $("invite").textContent = "Create invite link";
  const stopGrid = videoGrid(room);
  localControls(room);
  const self = () => room.localParticipant.identity;
  const announced = new Set();

  async function refresh() {
    let people;
    if (rooms) {
      people = (await call("GET", `${api}/livekit/rooms/${encodeURIComponent(roomName)}`)).participants
        .map((p) => ({ identity: p.identity, name: p.name, tracks: p.tracks ?? [] }));
    } else {
      people = [room.localParticipant, ...room.remoteParticipants.values()].map((p) => ({
        identity: p.identity, name: p.name,
        tracks: [...p.trackPublications.values()].map((t) => ({ sid: t.trackSid, source: t.source, muted: t.isMuted })),
      }));
    }
    // You first, and each one's tracks in one order: the list redraws only on a change.
    people.sort((a, b) => (b.identity === self()) - (a.identity === self()));
    for (const p of people) p.tracks.sort((a, b) => trackOrder.indexOf(a.source) - trackOrder.indexOf(b.source));
    redraw($("participants"), JSON.stringify(people), () => people.map((p) => participantItem(p, { self: p.identity === self(), moderate, roomName, refresh })));
    $("participants-count").textContent = people.length;
    if (!guests) return;
    const { guests: waiting } = await call("GET", `${api}/livekit/guest/waiting?roomId=${encodeURIComponent(roomName)}`);
    redraw($("waiting"), JSON.stringify(waiting), () => waiting.map((g) => waitingItem(g, { roomName, refresh })));
    $("waiting-count").textContent = waiting.length || "";
    $("waiting-empty").hidden = waiting.length > 0;
    $("waiting-panel").classList.toggle("attention", waiting.length > 0);
    for (const g of waiting) {
      if (!announced.has(g.identity)) status(`${g.name} is waiting to join.`);
      announced.add(g.identity);
    }
  }

  // One refresh at a time, every second (the waiting room has no events
  // the host's client could follow), and soon after livekit-client's
  // events; an event during a refresh runs it again.
  let running = false;
  let again = false;
  const tick = async () => {
    if (room.state === "disconnected") return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await refresh();
      } while (again);
    } catch (e) {
      status(e.message, "error");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(tick, 1000);
  for (const ev of [RoomEvent.ParticipantConnected, RoomEvent.ParticipantDisconnected, RoomEvent.TrackPublished, RoomEvent.TrackUnpublished,
    RoomEvent.TrackMuted, RoomEvent.TrackUnmuted, RoomEvent.LocalTrackPublished, RoomEvent.LocalTrackUnpublished]) {
    room.on(ev, () => setTimeout(tick));
  }

  $("invite").onclick = async () => {
    $("invite").disabled = true;
    try {
      // orgId left out: the caller's tenant. allowAll: any host of the tenant may admit.
      const inv = await call("POST", api + "/livekit/guest/invite", { roomId: roomName, allowAll: true });
      $("invitelink").value = inv.inviteUrl;
      $("invite-expiry").textContent = `Valid until ${new Date(inv.expiresAt).toLocaleString()}.`;
      $("invite-result").hidden = false;
      $("invite").textContent = "Create another link";
      $("copyinvite").textContent = "Copy";
      $("invitelink").focus();
      $("invitelink").select();
      status("Invite link created.");
    } catch (e) {
      status("Could not create an invite: " + e.message, "error");
    } finally {
      $("invite").disabled = false;
    }
  };
  $("copyinvite").onclick = async () => {
    try {
      await navigator.clipboard.writeText($("invitelink").value);
      $("copyinvite").textContent = "Copied";
      status("Invite link copied.");
    } catch {
      $("invitelink").select();
      status("Copy the selected link with Ctrl+C.");
    }
  };

  room.once(RoomEvent.Disconnected, (reason) => {
    clearInterval(timer);
    stopGrid();
    for (const id of ["participants", "waiting"]) {
      $(id).replaceChildren();
      delete $(id).dataset.signature;
    }
    onEnd(reason);
  });
  show("room");
  tick();
}

// ---- members (hosts and members) -----------------------------------------

const permissionText = {
  tokens: "join rooms", rooms: "see rooms and their participants", moderate: "mute and remove participants",
  guests: "invite guests and let them in", sip: "dial phone numbers",
};

async function member() {
  let me;
  let room;
  const can = (permission) => me.permissions.includes(permission);

  const signedIn = (session) => {
    me = session;
    $("account-user").textContent = me.user;
    $("account-tenant").textContent = me.tenant;
    $("account-role").textContent = can("moderate") ? "Host" : "Member";
    $("account-avatar").replaceWith(Object.assign(avatar(me.user, me.user), { id: "account-avatar" }));
    $("account").hidden = false;
    const may = me.permissions.map((p) => permissionText[p] ?? p);
    $("join-hint").textContent = may.length
      ? `You may ${may.join(", ")}. Rooms belong to tenant ${me.tenant}.`
      : "You may not join rooms.";
    if (!$("name").value) $("name").value = me.user.charAt(0).toUpperCase() + me.user.slice(1);
    show("join", { focus: "room" });
    status("Choose a room and join.");
  };
  try {
    signedIn(await call("GET", "/demo/session"));
  } catch {
    show("signin", { focus: "user" });
    status("Sign in.");
  }

  $("signin").onsubmit = async (ev) => {
    ev.preventDefault();
    $("signinbutton").disabled = true;
    try {
      signedIn(await call("POST", "/demo/session", { user: $("user").value.trim(), password: $("password").value }));
      $("password").value = "";
    } catch (e) {
      status("Could not sign in: " + e.message, "error");
      $("password").focus();
    } finally {
      $("signinbutton").disabled = false;
    }
  };

  $("signout").onclick = async () => {
    await room?.disconnect();
    await call("DELETE", "/demo/session").catch(() => {});
    location.assign("/");
  };

  $("joinform").onsubmit = async (ev) => {
    ev.preventDefault();
    const roomName = $("room").value.trim();
    $("join").disabled = true;
    try {
      status("Fetching a token…");
      // LiveKit's standard token endpoint format, served by lkgate's token
      // route; the session cookie authenticates it, no header needed.
      const source = TokenSource.endpoint(api + "/livekit/token");
      const { serverUrl, participantToken } = await source.fetch({ roomName, participantName: $("name").value.trim() });
      room = new Room();
      await room.connect(serverUrl, participantToken);
      // room.name is LiveKit's name for the room, which carries the tenant
      // (lkgate's scoped names): the page shows the tenant's name.
      enterRoom(room, roomName, {
        rooms: can("rooms"), moderate: can("moderate"), guests: can("guests"),
        onEnd: (reason) => {
          room = undefined;
          show("join");
          status(reason === DisconnectReason.PARTICIPANT_REMOVED ? "A host removed you from the room." : `You left ${roomName}.`,
            reason === DisconnectReason.CLIENT_INITIATED ? "info" : "error");
        },
      });
      status(`Joined ${roomName} as ${room.localParticipant.identity}`);
      await room.localParticipant.enableCameraAndMicrophone().catch((e) => status("No camera or microphone: " + e.message, "error"));
    } catch (e) {
      status("Could not join: " + e.message, "error");
    } finally {
      $("join").disabled = false;
    }
  };
}

// ---- guest ---------------------------------------------------------------

async function guest() {
  $("guest-badge").hidden = false;
  const outcome = (view, title, text) => {
    $("outcome-text").textContent = text;
    show(view, { title });
    status(text);
  };
  const inviteToken = new URLSearchParams(location.search).get("invite_token");
  if (!inviteToken) {
    outcome("invalid", "This invite link is incomplete", "The link has no invite token: ask your host for a new one.");
    return;
  }
  show("ask", { focus: "guestname" });
  status("Enter your name to ask to join.");

  // enter joins the room the guest was admitted to, publishing the camera
  // of the waiting room's preview.
  async function enter(msg, camera) {
    const room = new Room();
    await room.connect(msg.url, msg.token);
    enterRoom(room, msg.room, { // msg.room: lkgate's name for it, not room.name
      onEnd: (reason) => (reason === DisconnectReason.PARTICIPANT_REMOVED
        ? outcome("left", "Removed from the meeting", "A host removed you from the meeting.")
        : outcome("left", "You left the meeting", "You have left the room.")),
    });
    status(`In the room ${msg.room}`);
    try {
      if (camera) await room.localParticipant.publishTrack(camera);
      await room.localParticipant.setMicrophoneEnabled(true);
      if (!camera) await room.localParticipant.setCameraEnabled(true);
    } catch (e) {
      status("No camera or microphone: " + e.message, "error");
    }
  }

  $("guestform").onsubmit = async (ev) => {
    ev.preventDefault();
    $("askjoin").disabled = true;
    // The camera's preview while waiting, published once admitted.
    const preview = createLocalVideoTrack().catch(() => null);
    const stopPreview = async () => {
      const track = await preview;
      track?.detach().forEach((e) => e.remove());
      track?.stop();
    };
    try {
      const auth = await call("POST", api + "/livekit/guest/room-auth", { inviteToken, guestName: $("guestname").value.trim() });
      const lobby = new Room();
      let decided = false;
      let left = false;
      // Admission arrives as the guest's own participant attribute.
      const decide = async (value) => {
        if (decided || !value) return;
        decided = true;
        const msg = JSON.parse(value);
        await lobby.disconnect();
        if (msg.type !== "admit") {
          await stopPreview();
          outcome("denied", "Not let in", "The host declined your request.");
          return;
        }
        const camera = await preview;
        camera?.detach().forEach((e) => e.remove());
        try {
          await enter(msg, camera);
        } catch (e) {
          camera?.stop();
          outcome("failed", "Could not join the meeting", e.message);
        }
      };
      lobby.on(RoomEvent.ParticipantAttributesChanged, (changed, participant) => {
        if (participant === lobby.localParticipant && auth.admissionAttribute in changed) decide(changed[auth.admissionAttribute]);
      });
      lobby.on(RoomEvent.Disconnected, () => {
        if (decided) return;
        decided = true;
        stopPreview();
        if (left) outcome("left", "You left the waiting room", "You left the waiting room.");
        else outcome("denied", "Not let in", "The host declined your request.");
      });
      $("cancelwait").onclick = () => {
        left = true;
        lobby.disconnect();
      };
      await lobby.connect(auth.livekitUrl, auth.livekitToken);
      $("lobby-name").textContent = auth.guestName;
      show("waiting", { title: "Waiting to be let in" });
      status(`Waiting in the lobby as ${auth.guestName}…`);
      preview.then((track) => {
        if (!track || decided) return;
        const v = track.attach();
        v.classList.add("mirror");
        $("preview").replaceChildren(v);
      });
      await decide(lobby.localParticipant.attributes[auth.admissionAttribute]); // admitted while connecting
    } catch (e) {
      await stopPreview();
      status("Could not ask to join: " + e.message, "error");
    } finally {
      $("askjoin").disabled = false;
    }
  };
}

if (location.pathname === "/join") await guest();
else await member();
