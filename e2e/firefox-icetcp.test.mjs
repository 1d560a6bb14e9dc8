// Firefox ESR with UDP blocked: as in icetcp, nft drops every UDP packet to the server's media
// port inside this test's namespace. Firefox (through geckodriver) and a Chromium page reach the
// engine over ICE-TCP on the same port number, and see and hear each other.
//   node firefox-icetcp.test.mjs   (COHORT_BIN: the cohort binary; run as root inside the namespace)
import { ownServer, nft, blockUdp, checkMediaOverTcp, checkFellBackToTcp } from './server.mjs';
import { startFirefox, firefoxProbes, firefoxJoins, SELECTED_PROTOCOLS } from './firefox.mjs';
import { launchChromium, remoteVideos, inboundAudioPackets, joinRoom, reporter } from './lib.mjs';

const { check, finish } = reporter('firefox-icetcp');
const port = 18096;
const media = 53320;
const table = 'cohort_e2e_firefox_udp_blocked';

let server;
let browser;
let firefox;
try {
  blockUdp(table, media);
  // Firefox gathers on the namespace's veth address, not on loopback, and pairs TCP only with
  // a candidate it can reach from there: the engine listens on the veth pair's other end.
  server = await ownServer('firefox-icetcp', port, media, ['--media-ip', '10.200.0.2']);
  const { base } = server;
  browser = await launchChromium();
  firefox = await startFirefox(4445);
  const { ff } = firefox;
  const room = `fftcp-${Date.now()}`;

  const ada = await joinRoom(browser, base, room, 'Ada');
  const fiona = firefoxProbes(ff, 'Fiona (Firefox)');
  const clicked = Date.now();
  await firefoxJoins(ff, base, room, fiona.name);
  const everyone = [
    { name: 'Ada', videos: () => remoteVideos(ada.page), audio: () => inboundAudioPackets(ada.page), protocols: () => ada.page.evaluate(SELECTED_PROTOCOLS), since: ada.clicked },
    { ...fiona, protocols: () => ff.execAsync(`const done = arguments[arguments.length - 1]; ${SELECTED_PROTOCOLS}.then(done, (e) => done([String(e)]));`), since: clicked },
  ];
  for (const p of everyone) await checkMediaOverTcp(check, p);
  await checkFellBackToTcp(check, table, base);
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await firefox?.quit();
  await browser?.close();
  await server?.stop();
  try { nft('delete', 'table', 'inet', table); } catch { /* never made */ }
}
finish();
