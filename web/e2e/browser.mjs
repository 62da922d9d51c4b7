// Browser end-to-end test of the demo page, run by examples/server's
// TestBrowser (which starts livekit-server and the example server). It
// drives headless Debian Chromium with fake media devices:
//   1. a member signs in (a session cookie, which page scripts cannot read;
//      no API key anywhere in the browser), and livekit-client's
//      TokenSource.endpoint fetches a token from lkgate's token route with
//      that session (no identity, an agent dispatch) and connects to the
//      tenant's LiveKit room (room.name is LiveKit's scoped name);
//   2. a host signs in, joins with camera and microphone (the page shows the
//      room's name as lkgate answers it, not LiveKit's), creates an invite;
//   3. the member joins the same room and sees the host, but has no
//      moderation controls, and its own requests to remove or mute the
//      host, read the room or invite get 403 permission_denied;
//   4. a guest opens the invite link and waits in its lobby;
//   5. the host admits it; the guest sees the room with the host in it;
//   6. the host mutes the guest's microphone, then removes the guest;
//   7. a second guest waits with the same invite and the host denies it.
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
// redact keeps tokens out of the log: livekit-client's errors quote its
// signalling URL, whose query carries the access token.
const redact = (text) => text.replace(/\?[^\s'"]*access_token=[^\s'"]*/g, "?[redacted]").replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, "[token]");
const step = (name) => console.log(`[${new Date().toISOString()}] ${name}`);

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
    const ctx = await browser.newContext({ permissions: ["camera", "microphone"] });
    const page = await ctx.newPage();
    page.setDefaultTimeout(timeout);
    page.on("console", (m) => {
      // livekit-client first tries the newer /rtc/v1 signalling path, which
      // livekit-server v1.8.4 answers with 404, then falls back: not an error here.
      if (m.type() !== "error" || /\/rtc\/v1|Failed to load resource/.test(m.text())) return;
      console.log(`${name} console: ${redact(m.text())}`);
    });
    page.on("pageerror", (e) => console.log(`${name} page error: ${redact(e.message)}`));
    return page;
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

  // signInAndJoin signs user in on a new page and joins room e2e as name.
  const signInAndJoin = async (pageName, user, name) => {
    const page = await newPage(pageName);
    await page.goto(base + "/");
    await page.fill("#user", user.user);
    await page.fill("#password", user.password);
    await page.click("#signinbutton");
    await page.waitForFunction(() => document.querySelector("#status").textContent === "Choose a room and join.");
    await page.fill("#room", "e2e");
    await page.fill("#name", name);
    await page.click("#join");
    await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("Joined e2e as "));
    return page;
  };

  step("host signs in and joins");
  host = await signInAndJoin("host", hostUser, "Hana Host");

  step("a member joins, sees the host, and may not moderate");
  member = await signInAndJoin("member", memberUser, "Mia Member");
  const hostRow = member.locator("#participants li", { hasText: "Hana Host" });
  await hostRow.waitFor();
  const hostIdentity = await hostRow.getAttribute("data-identity");
  if (await member.locator("#participants button, #invite:visible, #waiting li").count() !== 0) {
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
  // The host is still in the room, its microphone unmuted.
  const hostSelf = host.locator("#participants li", { hasText: "Hana Host" });
  await hostSelf.getByRole("button", { name: "Mute microphone" }).waitFor();
  await member.click("#leave");
  await host.locator("#participants li", { hasText: "Mia Member" }).waitFor({ state: "detached" });

  step("host creates an invite");
  await host.click("#invite");
  await host.waitForFunction(() => document.querySelector("#invitelink").href.includes("invite_token="));
  const inviteUrl = await host.getAttribute("#invitelink", "href");

  // waitInLobby opens the invite as a new guest named name, who then waits.
  const waitInLobby = async (pageName, name) => {
    const page = await newPage(pageName);
    await page.goto(inviteUrl);
    await page.fill("#guestname", name);
    await page.click("#askjoin");
    await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("Waiting in the lobby"));
    return page;
  };

  step("guest opens the invite and waits");
  guest = await waitInLobby("guest", "Grace Guest");

  step("host admits");
  const admit = host.locator("#waiting li", { hasText: "Grace Guest" }).getByRole("button", { name: "Admit" });
  await admit.click();

  step("guest sees the room");
  await guest.waitForFunction(() => document.querySelector("#status").textContent === "In the room e2e");
  await guest.locator("#guestparticipants li", { hasText: "Hana Host" }).waitFor();
  // Media flows: the guest decodes the host's (fake) camera.
  await guest.waitForFunction(() => [...document.querySelectorAll("#videos video")].some((v) => v.videoWidth > 0));
  await host.locator("#participants li", { hasText: "Grace Guest" }).waitFor();

  const shot = join(artifacts, "guest-admitted.png");
  await guest.screenshot({ path: shot, fullPage: true });
  await host.screenshot({ path: join(artifacts, "host.png"), fullPage: true });
  console.log("screenshot:", shot);

  step("host mutes, then removes the guest");
  const graceRow = host.locator("#participants li", { hasText: "Grace Guest" });
  await graceRow.getByRole("button", { name: "Mute microphone" }).click();
  await graceRow.getByRole("button", { name: "Unmute microphone" }).waitFor();
  await graceRow.getByRole("button", { name: "Remove" }).click();
  await graceRow.waitFor({ state: "detached" });
  await guest.waitForFunction(() => document.querySelector("#status").textContent === "You have left the room.");

  step("a second guest waits; the host denies it");
  denied = await waitInLobby("denied", "Dan Denied");
  const danRow = host.locator("#waiting li", { hasText: "Dan Denied" });
  await danRow.getByRole("button", { name: "Deny" }).click();
  await denied.waitForFunction(() => document.querySelector("#status").textContent === "The host declined your request.");
  await danRow.waitFor({ state: "detached" });
  if (await denied.locator("#guestparticipants li").count() !== 0) throw new Error("the denied guest sees the room");
  step("done");
} catch (e) {
  for (const [name, page] of [["host", host], ["member", member], ["guest", guest], ["denied", denied]]) {
    if (page) await page.screenshot({ path: join(artifacts, `failure-${name}.png`), fullPage: true }).catch(() => {});
  }
  throw e;
} finally {
  await browser.close();
}
