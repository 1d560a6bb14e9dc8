// UDP blocked: inside this test's network namespace (scripts/e2e.sh made it), nft drops every UDP
// packet to a server's media port, as a school firewall would. Chromium then reaches the
// engine over ICE-TCP on the same port number, and two participants see and hear each other.
//   node icetcp.test.mjs   (COHORT_BIN: the cohort binary; run as root inside the namespace)
import { ownServer, nft, blockUdp, checkMediaOverTcp, checkFellBackToTcp } from './server.mjs';
import { SELECTED_PROTOCOLS } from './firefox.mjs';
import { launchChromium, remoteVideos, inboundAudioPackets, joinRoom, describePcs, reporter } from './lib.mjs';

const { check, finish } = reporter('icetcp');
const port = 18094;
const media = 53300;
const table = 'cohort_e2e_udp_blocked';

let server;
let browser;
try {
  blockUdp(table, media);
  server = await ownServer('icetcp', port, media);
  const { base } = server;

  browser = await launchChromium();
  const room = `tcp-${Date.now()}`;
  const ada = await joinRoom(browser, base, room, 'Ada');
  const bea = await joinRoom(browser, base, room, 'Bea');
  for (const p of [ada, bea]) {
    await checkMediaOverTcp(check, {
      name: p.name,
      since: p.clicked,
      videos: () => remoteVideos(p.page),
      audio: () => inboundAudioPackets(p.page),
      protocols: () => p.page.evaluate(SELECTED_PROTOCOLS),
      describe: () => describePcs(p.page),
    });
  }
  await checkFellBackToTcp(check, table, base);
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await browser?.close();
  await server?.stop();
  try { nft('delete', 'table', 'inet', table); } catch { /* never made */ }
}
finish();
