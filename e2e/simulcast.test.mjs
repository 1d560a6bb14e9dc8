// Simulcast in Chromium: Ada's 720p camera goes out in three layers (RIDs q, h, f); Bea receives
// one, chosen by the size of Ada's tile on Bea's screen (e2e/layers.mjs has the sequence). Its
// own server, started `--simulcast true`.
//   node simulcast.test.mjs   (COHORT_BIN: the cohort binary; run inside the namespace)
import { ownServer } from './server.mjs';
import { launchChromium, joinRoom, reporter } from './lib.mjs';
import { OUTBOUND, checkLayersFollowTheTile } from './layers.mjs';

const { check, finish } = reporter('simulcast');
const port = 18097;
const media = 53330;

let server;
let browser;
try {
  server = await ownServer('simulcast', port, media, ['--simulcast', 'true']);
  const { base } = server;
  browser = await launchChromium();
  const room = `simulcast-${Date.now()}`;
  // A 720p camera, as a webcam gives when asked: Chromium sends three layers only from 960x540
  // up, and its fake camera gives 640x480 unless asked for more.
  const hd = () => {
    const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (c) => gum(c?.video ? { ...c, video: { ...(c.video === true ? {} : c.video), width: 1280, height: 720 } } : c);
  };
  const ada = await joinRoom(browser, base, room, 'Ada', {}, hd);
  const bea = await joinRoom(browser, base, room, 'Bea');
  await checkLayersFollowTheTile(check, { name: 'Ada', outbound: () => ada.page.evaluate(OUTBOUND), viewer: bea });
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await browser?.close();
  await server?.stop();
}
finish();
