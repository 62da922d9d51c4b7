// Browser end-to-end test of the demo page, run by examples/server's
// TestBrowser (which starts livekit-server and the example server). It
// drives headless Debian Chromium with fake media devices:
//   1. livekit-client's TokenSource.endpoint fetches a token from lkgate's
//      token route (no identity, an agent dispatch) and connects to the
//      tenant's LiveKit room (room.name is LiveKit's scoped name);
//   2. a host signs in, joins with camera and microphone (the page shows the
//      room's name as lkgate answers it, not LiveKit's), creates an invite;
//   3. a guest opens the invite link and waits in its lobby;
//   4. the host admits it; the guest sees the room with the host in it;
//   5. the host mutes the guest's microphone, then removes the guest;
//   6. a second guest waits with the same invite and the host denies it.
// Environment: BASE_URL, API_KEY, ARTIFACT_DIR, TOKENSOURCE_LIVEKIT_ROOM (LiveKit's
// name of API_KEY's tenant's room "tokensource"), CHROMIUM (default /usr/bin/chromium).
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const apiKey = process.env.API_KEY;
const artifacts = process.env.ARTIFACT_DIR;
const tokenSourceRoom = process.env.TOKENSOURCE_LIVEKIT_ROOM;
if (!base || !apiKey || !artifacts || !tokenSourceRoom) {
  throw new Error("BASE_URL, API_KEY, ARTIFACT_DIR and TOKENSOURCE_LIVEKIT_ROOM are required");
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
let host, guest, denied;
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

  step("TokenSource.endpoint against lkgate's token route");
  const probe = await newPage("probe");
  await probe.goto(base + "/demo/style.css");
  const ts = await probe.evaluate(async ({ apiKey }) => {
    const { Room, TokenSource } = await import("/demo/livekit-client.esm.mjs");
    const { api } = await (await fetch("/demo/config.json")).json();
    const source = TokenSource.endpoint(api + "/livekit/token", { headers: { Authorization: "Bearer " + apiKey } });
    const res = await source.fetch({ roomName: "tokensource", participantName: "Probe", agentName: "helper" });
    const room = new Room();
    await room.connect(res.serverUrl, res.participantToken);
    const out = { identity: room.localParticipant.identity, room: room.name, state: room.state };
    await room.disconnect();
    return out;
  }, { apiKey });
  if (!/^p-[0-9a-f]{32}$/.test(ts.identity) || ts.room !== tokenSourceRoom || ts.state !== "connected") {
    throw new Error("TokenSource connection: " + JSON.stringify(ts));
  }
  console.log("TokenSource connected as", ts.identity);

  step("host joins");
  host = await newPage("host");
  await host.goto(base + "/");
  await host.fill("#apikey", apiKey);
  await host.fill("#room", "e2e");
  await host.fill("#name", "Hana Host");
  await host.click("#join");
  await host.waitForFunction(() => document.querySelector("#status").textContent.startsWith("Joined e2e as "));
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
  for (const [name, page] of [["host", host], ["guest", guest], ["denied", denied]]) {
    if (page) await page.screenshot({ path: join(artifacts, `failure-${name}.png`), fullPage: true }).catch(() => {});
  }
  throw e;
} finally {
  await browser.close();
}
