// Browser end-to-end test of the demo page, run by examples/server's
// TestBrowser (which starts livekit-server and the example server). It
// drives headless Debian Chromium with fake media devices, at 1280x800:
//   1. a member signs in (a session cookie, which page scripts cannot read;
//      no API key anywhere in the browser), and livekit-client's
//      TokenSource.endpoint fetches a token from lkgate's token route with
//      that session (no identity, an agent dispatch) and connects to the
//      tenant's LiveKit room (room.name is LiveKit's scoped name);
//   2. a host signs in (by keyboard), sees its user and tenant in the
//      header, and joins with camera and microphone: its own tile in the
//      video grid, the room's name as lkgate answers it, not LiveKit's;
//   3. the member joins the same room, sees the host in the participants
//      panel and decodes its video in the grid, but has no moderation
//      controls, no waiting room and no invite panel, and its own requests
//      to remove or mute the host, read the room or invite get 403
//      permission_denied;
//   4. the host creates an invite; a link without its token says so; a
//      guest opens the invite and waits in its lobby, with a preview of its
//      camera (the host's waiting room lists it);
//   5. the host admits it; the guest sees the room and decodes the host's
//      video; the host decodes the guest's;
//   6. a second guest waits with the same invite (the host's view, with
//      the grid and every panel, is the screenshot of the README);
//   7. the host mutes the guest's microphone (the guest's own controls show
//      it muted), then removes the guest, whose page says it left;
//   8. the host denies the second guest, which never sees the room.
// Every page keeps each video inside the video grid, which sits in the
// room's stage clear of the panels; fits 1280x800 (and the host's 800x600)
// without horizontal scrolling; labels every input and names every button;
// joining moves the focus to the room's heading. Screenshots (signin,
// join, host, host-800x600, member, guest-waiting, guest-admitted,
// guest-removed, guest-denied) go to ARTIFACT_DIR.
// Environment: BASE_URL, HOST_USER and HOST_PASSWORD (a host of the tenant:
// tokens+rooms+moderate+guests), MEMBER_USER and MEMBER_PASSWORD (a member of
// the same tenant: tokens only), ARTIFACT_DIR, TOKENSOURCE_LIVEKIT_ROOM
// (LiveKit's name of the tenant's room "tokensource"), CHROMIUM (default
// /usr/bin/chromium).
import { join } from "node:path";
import { chromium } from "playwright-core";

const { BASE_URL: base, ARTIFACT_DIR: artifacts, TOKENSOURCE_LIVEKIT_ROOM: tokenSourceRoom } = process.env;
const hostUser = { user: process.env.HOST_USER, password: process.env.HOST_PASSWORD };
const memberUser = { user: process.env.MEMBER_USER, password: process.env.MEMBER_PASSWORD };
if (!base || !artifacts || !tokenSourceRoom || !hostUser.user || !hostUser.password || !memberUser.user || !memberUser.password) {
  throw new Error("BASE_URL, ARTIFACT_DIR, TOKENSOURCE_LIVEKIT_ROOM, HOST_USER, HOST_PASSWORD, MEMBER_USER and MEMBER_PASSWORD are required");
}
// Waits are for events, generous for a loaded 2-core machine.
const timeout = 60_000;
const viewport = { width: 1280, height: 800 };
// redact keeps tokens out of the log: livekit-client's errors quote its
// signalling URL, whose query carries the access token.
const redact = (text) => text.replace(/\?[^\s'"]*access_token=[^\s'"]*/g, "?[redacted]").replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, "[token]");
const step = (name) => console.log(`[${new Date().toISOString()}] ${name}`);

// Stable selectors: ids and data-testid.
const view = (page, name) => page.waitForSelector(`#main[data-view="${name}"]`);
const participant = (page, identity) => page.locator(`#participants [data-testid="participant"][data-identity="${identity}"]`);
const participantNamed = (page, name) => page.locator('#participants [data-testid="participant"]', { hasText: name });
const waitingGuest = (page, name) => page.locator('#waiting [data-testid="waiting-guest"]', { hasText: name });
// decodes waits until page plays identity's camera in the video grid.
const decodes = (page, identity) => page.waitForFunction((id) => {
  const v = document.querySelector(`#videos [data-testid="video-tile"][data-identity="${id}"][data-source="camera"] video`);
  return v !== null && v.videoWidth > 0;
}, identity);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Playwright gives the browser a fresh temporary profile (--user-data-dir) itself.
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    // livekit-server listens on 127.0.0.1 only: let WebRTC use loopback, and
    // offer plain IP candidates (the server cannot resolve mDNS names).
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
  ],
  timeout,
});
let host, member, guest, denied;
try {
  const newPage = async (name) => {
    const ctx = await browser.newContext({ permissions: ["camera", "microphone"], viewport });
    const page = await ctx.newPage();
    page.setDefaultTimeout(timeout);
    page.on("console", (m) => {
      // livekit-client first tries the newer /rtc/v1 signalling path, which
      // livekit-server v1.8.4 answers with 404, then falls back; a removed
      // guest's data channels close under it: not errors here.
      if (m.type() !== "error" || /\/rtc\/v1|Failed to load resource|Unknown DataChannel error/.test(m.text())) return;
      console.log(`${name} console: ${redact(m.text())}`);
    });
    page.on("pageerror", (e) => console.log(`${name} page error: ${redact(e.message)}`));
    return page;
  };
  const shot = async (page, name) => {
    const path = join(artifacts, `${name}.png`);
    await page.screenshot({ path });
    console.log("screenshot:", path);
  };
  // layoutCheck fails where the page breaks the basics: a video outside the
  // grid or the grid outside the room's stage or over a panel (the old page
  // showed videos under "Waiting guests"), horizontal scrolling, an input
  // without a label, a visible button without a name.
  const layoutCheck = async (page, where) => {
    const problems = await page.evaluate(() => {
      const out = [];
      const stray = [...document.querySelectorAll("video")].filter((v) => !v.closest("#videos, #preview"));
      if (stray.length) out.push(`${stray.length} video(s) outside the grid`);
      const grid = document.querySelector("#videos");
      if (!grid.closest("#room-view .stage")) out.push("the grid is outside the room's stage");
      const g = grid.getBoundingClientRect();
      for (const panel of document.querySelectorAll(".panel")) {
        const p = panel.getBoundingClientRect();
        if (panel.checkVisibility() && g.width > 0 && g.left < p.right && p.left < g.right && g.top < p.bottom && p.top < g.bottom) {
          out.push(`the grid overlaps #${panel.id}`);
        }
      }
      if (document.documentElement.scrollWidth > window.innerWidth) out.push(`scrolls sideways: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
      for (const i of document.querySelectorAll("input")) if (i.labels.length === 0) out.push(`input #${i.id} has no label`);
      for (const b of document.querySelectorAll("button")) {
        if (b.checkVisibility() && !(b.getAttribute("aria-label") || b.textContent).trim()) out.push(`button #${b.id} has no name`);
      }
      return out;
    });
    if (problems.length) throw new Error(`${where}: ${problems.join("; ")}`);
  };

  step("TokenSource.endpoint against lkgate's token route, with a member's session");
  const probe = await newPage("probe");
  await probe.goto(base + "/demo/style.css");
  const ts = await probe.evaluate(async (memberUser) => {
    const { Room, TokenSource } = await import("/demo/livekit-client.esm.mjs");
    const { api } = await (await fetch("/demo/config.json")).json();
    const signin = await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(memberUser) });
    if (!signin.ok) throw new Error("sign-in: " + signin.status);
    // The session cookie is HttpOnly: no script of the page can read it.
    const cookies = document.cookie;
    const source = TokenSource.endpoint(api + "/livekit/token");
    const res = await source.fetch({ roomName: "tokensource", participantName: "Probe", agentName: "helper" });
    const room = new Room();
    await room.connect(res.serverUrl, res.participantToken);
    const out = { identity: room.localParticipant.identity, room: room.name, state: room.state, cookies };
    await room.disconnect();
    return out;
  }, memberUser);
  if (!/^p-[0-9a-f]{32}$/.test(ts.identity) || ts.room !== tokenSourceRoom || ts.state !== "connected" || ts.cookies !== "") {
    throw new Error("TokenSource connection: " + JSON.stringify(ts));
  }
  console.log("TokenSource connected as", ts.identity);
  await probe.context().close();

  // signInAndJoin signs user in on a new page (submitting with Enter, as a
  // keyboard user does) and joins room e2e as name; it answers the page
  // and the identity LiveKit gave it.
  const signInAndJoin = async (pageName, user, name) => {
    const page = await newPage(pageName);
    await page.goto(base + "/");
    await view(page, "signin");
    await layoutCheck(page, `${pageName}'s sign-in`);
    if (pageName === "host") await shot(page, "signin");
    await page.fill("#user", user.user);
    await page.fill("#password", user.password);
    await page.press("#password", "Enter");
    await view(page, "join");
    if (pageName === "host") await shot(page, "join");
    const header = `${await page.textContent('[data-testid="account-user"]')} ${await page.textContent('[data-testid="account-tenant"]')}`;
    if (header !== `${user.user} acme`) throw new Error(`${pageName}'s header: ${header}`);
    await page.fill("#room", "e2e");
    await page.fill("#name", name);
    await page.click("#join");
    await view(page, "room");
    // The focus moves to the room's heading, where a screen reader starts.
    if (await page.evaluate(() => document.activeElement.id) !== "room-title") throw new Error(`${pageName}'s focus after joining`);
    const title = await page.textContent('[data-testid="room-title"]');
    if (title !== "e2e") throw new Error(`${pageName}'s room title: ${title}`);
    const identity = await page.getAttribute('#videos [data-testid="video-tile"][data-local]', "data-identity");
    if (!/^p-[0-9a-f]{32}$/.test(identity)) throw new Error(`${pageName}'s identity: ${identity}`);
    await decodes(page, identity); // its own camera, in the grid
    return [page, identity];
  };

  step("host signs in and joins");
  let hostIdentity;
  [host, hostIdentity] = await signInAndJoin("host", hostUser, "Hana Host");
  if (await host.textContent('[data-testid="account-role"]') !== "Host") throw new Error("the host's header does not say Host");
  await host.locator("#waiting-panel").waitFor();
  await host.locator("#invite-panel").waitFor();

  step("a member joins, sees the host, and may not moderate");
  let memberIdentity;
  [member, memberIdentity] = await signInAndJoin("member", memberUser, "Mia Member");
  if (await member.textContent('[data-testid="account-role"]') !== "Member") throw new Error("the member's header does not say Member");
  await participant(member, hostIdentity).waitFor();
  await decodes(member, hostIdentity);
  if (await member.locator("#participants button, #waiting-panel:visible, #invite-panel:visible, #invite:visible").count() !== 0) {
    throw new Error("the member's page shows moderation controls");
  }
  const refusals = await member.evaluate(async (hostIdentity) => {
    const { api } = await (await fetch("/demo/config.json")).json();
    const ask = async (method, path, body) => {
      const res = await fetch(api + path, { method, headers: body ? { "Content-Type": "application/json" } : {}, body: body && JSON.stringify(body) });
      const p = await res.json();
      return `${res.status} ${p.code} ${p.permission}`;
    };
    return {
      remove: await ask("DELETE", "/livekit/participant", { room_name: "e2e", participant_identity: hostIdentity }),
      mute: await ask("POST", "/livekit/participant/mute", { room_name: "e2e", participant_identity: hostIdentity, source: "microphone", muted: true }),
      room: await ask("GET", "/livekit/rooms/e2e"),
      invite: await ask("POST", "/livekit/guest/invite", { orgId: "acme", roomId: "e2e", allowAll: true }),
      cookies: document.cookie,
    };
  }, hostIdentity);
  const want = { remove: "403 permission_denied moderate", mute: "403 permission_denied moderate", room: "403 permission_denied rooms", invite: "403 permission_denied guests", cookies: "" };
  if (JSON.stringify(refusals) !== JSON.stringify(want)) throw new Error("the member's requests: " + JSON.stringify(refusals));
  console.log("member refused:", JSON.stringify(refusals));
  // The host sees the member with its tracks; the host is still in the
  // room, its microphone live; the member's page is intact.
  await participant(host, memberIdentity).locator('[data-testid="track"][data-source="camera"]').waitFor();
  await participant(host, hostIdentity).locator('[data-testid="track"][data-source="microphone"][data-muted="false"]').waitFor();
  await layoutCheck(member, "the member's room");
  await shot(member, "member");
  await member.click("#leave");
  await view(member, "join");
  await participant(host, memberIdentity).waitFor({ state: "detached" });

  step("host creates an invite");
  await host.click("#invite");
  await host.waitForFunction(() => document.querySelector("#invitelink").value.includes("invite_token="));
  const inviteUrl = await host.inputValue("#invitelink");

  // waitInLobby opens the invite as a new guest named name, who then waits.
  const waitInLobby = async (pageName, name) => {
    const page = await newPage(pageName);
    await page.goto(inviteUrl);
    await view(page, "ask");
    await page.fill("#guestname", name);
    await page.click("#askjoin");
    await view(page, "waiting");
    await waitingGuest(host, name).waitFor();
    return page;
  };

  step("a link without its invite token");
  const broken = await newPage("broken");
  await broken.goto(base + "/join");
  await view(broken, "invalid");
  await broken.context().close();

  step("guest opens the invite and waits");
  guest = await waitInLobby("guest", "Grace Guest");
  await guest.waitForFunction(() => document.querySelector("#preview video")?.videoWidth > 0);
  await layoutCheck(guest, "the guest's waiting room");
  await shot(guest, "guest-waiting");

  step("host admits");
  await waitingGuest(host, "Grace Guest").locator('[data-testid="admit"]').click();

  step("guest sees the room");
  await view(guest, "room");
  if (await guest.textContent('[data-testid="room-title"]') !== "e2e") throw new Error("the guest's room title");
  await participant(guest, hostIdentity).waitFor();
  // Media flows both ways: the guest decodes the host's (fake) camera, the host the guest's.
  await decodes(guest, hostIdentity);
  const graceRow = participantNamed(host, "Grace Guest");
  await graceRow.waitFor();
  const guestIdentity = await graceRow.getAttribute("data-identity");
  await decodes(host, guestIdentity);
  await waitingGuest(host, "Grace Guest").waitFor({ state: "detached" });
  if (await guest.locator("#participants button, #waiting-panel:visible, #invite-panel:visible").count() !== 0) {
    throw new Error("the guest's page shows moderation controls");
  }
  await layoutCheck(guest, "the guest's room");
  await shot(guest, "guest-admitted");

  step("a second guest waits: the host's full view");
  denied = await waitInLobby("denied", "Dan Denied");
  await graceRow.locator('[data-testid="track"][data-source="microphone"][data-muted="false"]').waitFor();
  await layoutCheck(host, "the host's room");
  await shot(host, "host");
  await host.setViewportSize({ width: 800, height: 600 });
  await layoutCheck(host, "the host's room at 800x600");
  await shot(host, "host-800x600");
  await host.setViewportSize(viewport);

  step("host mutes, then removes the guest");
  await graceRow.locator('[data-testid="track"][data-source="microphone"] [data-testid="mute-track"]').click();
  await graceRow.locator('[data-testid="track"][data-source="microphone"][data-muted="true"]').waitFor();
  await guest.waitForSelector('#mic[data-on="false"]'); // the guest's own controls follow
  await graceRow.locator('[data-testid="remove-participant"]').click();
  await graceRow.waitFor({ state: "detached" });
  await view(guest, "left");
  if (await guest.textContent("#outcome-text") !== "A host removed you from the meeting.") {
    throw new Error("the removed guest's page: " + await guest.textContent("#outcome-text"));
  }

  step("the host denies the second guest");
  const danRow = waitingGuest(host, "Dan Denied");
  await danRow.locator('[data-testid="deny"]').click();
  await view(denied, "denied");
  await danRow.waitFor({ state: "detached" });
  if (await denied.locator('#room-view:visible, #participants [data-testid="participant"], #videos [data-testid="video-tile"]').count() !== 0) {
    throw new Error("the denied guest sees the room");
  }
  await shot(denied, "guest-denied");
  await shot(guest, "guest-removed");
  step("done");
} catch (e) {
  for (const [name, page] of [["host", host], ["member", member], ["guest", guest], ["denied", denied]]) {
    if (page) await page.screenshot({ path: join(artifacts, `failure-${name}.png`), fullPage: true }).catch(() => {});
  }
  throw e;
} finally {
  await browser.close();
}
