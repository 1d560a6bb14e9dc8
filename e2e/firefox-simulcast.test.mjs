// Simulcast from Firefox ESR: Fiona's camera goes out in three layers (RIDs q, h, f, as Firefox
// encodes them from the web client's sendEncodings: 640, 320 and 160 px from its 640x480 fake
// camera); Bea, in Chromium, receives one, chosen by the size of Fiona's tile on her screen
// (e2e/layers.mjs has the sequence). Its own server, started `--simulcast true`.
//   node firefox-simulcast.test.mjs   (COHORT_BIN: the cohort binary; run inside the namespace)
import { ownServer } from './server.mjs';
import { startFirefox, firefoxJoins } from './firefox.mjs';
import { launchChromium, joinRoom, reporter } from './lib.mjs';
import { OUTBOUND, checkLayersFollowTheTile } from './layers.mjs';

const { check, finish } = reporter('firefox-simulcast');
const port = 18099;
const media = 53350;

let server;
let browser;
let firefox;
try {
  // Firefox gathers on the namespace's veth address: the engine listens on its other end.
  server = await ownServer('firefox-simulcast', port, media, ['--simulcast', 'true', '--media-ip', '10.200.0.2']);
  const { base } = server;
  browser = await launchChromium();
  firefox = await startFirefox(4447);
  const { ff } = firefox;
  const room = `ffsimulcast-${Date.now()}`;
  await firefoxJoins(ff, base, room, 'Fiona');
  const outbound = () => ff.execAsync(`const done = arguments[arguments.length - 1]; ${OUTBOUND}.then(done, () => done({}));`);
  const bea = await joinRoom(browser, base, room, 'Bea');
  await checkLayersFollowTheTile(check, { name: 'Fiona (Firefox)', outbound, viewer: bea });
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await firefox?.quit();
  await browser?.close();
  await server?.stop();
}
finish();
