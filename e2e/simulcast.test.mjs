// Simulcast in Chromium: Ada's 720p camera goes out in three layers (RIDs q, h, f); Bea receives
// one, chosen by the size of Ada's tile on Bea's screen. A large tile gets the top layer, a
// middling one the middle layer, a small one the lowest, and with nobody on the higher layers,
// Ada stops encoding them (dynacast); enlarged again, the top layer comes back. Read from
// getStats on both sides. Its own server, started `--simulcast true`.
//   node simulcast.test.mjs   (COHORT_BIN: the cohort binary; run inside the namespace)
import { ownServer } from './server.mjs';
import { launchChromium, joinRoom, until, remoteVideos, describePcs, reporter } from './lib.mjs';

const { check, finish } = reporter('simulcast');
const port = 18097;
const media = 53330;

// The width of the frames Bea decodes from her one inbound video.
const INBOUND_WIDTH = `(async () => {
  let w = 0;
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') w = s.frameWidth ?? w; });
  }
  return w;
})()`;

// What Ada sends on each RID of her camera: { q: { frames, width }, ... }.
const OUTBOUND = `(async () => {
  const out = {};
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) out[s.rid] = { frames: s.framesSent ?? 0, width: s.frameWidth ?? 0 };
    });
  }
  return out;
})()`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  await until(async () => (await remoteVideos(bea.page)).some((v) => v.width > 0), 20000, 'Bea sees Ada');
  const adaId = (await remoteVideos(bea.page))[0].participant;
  const tile = `.tile[data-participant="${adaId}"][data-kind="camera"]`;
  const sizeTile = (width) => bea.page.evaluate(([sel, w]) => {
    const t = document.querySelector(sel);
    t.style.width = `${w}px`;
    t.style.justifySelf = 'start';
  }, [tile, width]);

  // Ada sends all three layers.
  const flowing = await until(async () => {
    const out = await ada.page.evaluate(OUTBOUND);
    const live = Object.entries(out).filter(([, o]) => o.frames > 0 && o.width > 0);
    return live.length === 3 ? live : null;
  }, 20000, 'Ada sends three layers').catch(() => null);
  check(flowing !== null, `Ada's camera goes out in three layers (${JSON.stringify(flowing)})`);
  const byWidth = (flowing ?? []).sort((a, b) => a[1].width - b[1].width);
  const [lowRid, low] = byWidth[0] ?? ['', { width: -1 }];
  const top = byWidth[byWidth.length - 1]?.[1] ?? { width: -1 };
  const inboundWidth = (want, ms, what) => until(async () => {
    const w = await bea.page.evaluate(INBOUND_WIDTH);
    return w === want ? w : null;
  }, ms, what).catch(() => null);

  await sizeTile(1200);
  const big = await inboundWidth(top.width, 20000, 'a large tile gets the top layer');
  check(big !== null, `a large tile receives the top layer sent (${top.width} px wide)`);

  // A tile of 400 px (225 px tall): more than the lowest layer's 180 lines, no more than the
  // middle layer's 360.
  const middle = byWidth[1]?.[1] ?? { width: -1 };
  await sizeTile(400);
  const medium = await inboundWidth(middle.width, 15000, 'a middling tile gets the middle layer');
  check(medium !== null, `a middling tile receives the middle layer (${middle.width} px wide)`);

  await sizeTile(100);
  const small = await inboundWidth(low.width, 15000, 'a small tile gets the low layer');
  check(small !== null, `shrinking the tile lowers the inbound frameWidth to the low layer's (${low.width} px)`);
  const videos = await remoteVideos(bea.page);
  check(videos[0]?.width > 0, `and the video still plays (${videos[0]?.width} px)`);

  // Nobody receives the higher layers now: after the dynacast delay Ada stops encoding them.
  await sleep(5000);
  const a = await ada.page.evaluate(OUTBOUND);
  await sleep(2000);
  const b = await ada.page.evaluate(OUTBOUND);
  const sent = Object.fromEntries(Object.keys(b).map((rid) => [rid, b[rid].frames - (a[rid]?.frames ?? 0)]));
  const higher = byWidth.slice(1).map(([rid]) => rid);
  check(higher.length > 0 && higher.every((rid) => sent[rid] === 0) && sent[lowRid] > 0,
    `with nobody on them, the higher layers are not encoded (frames in 2 s: ${JSON.stringify(sent)})`);

  await sizeTile(1200);
  const again = await inboundWidth(top.width, 20000, 'enlarged again, the top layer comes back');
  check(again !== null, `enlarging the tile raises it again: the top layer resumed (${top.width} px)`);
  if (!big || !small || !again) console.log(await describePcs(bea.page));
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await browser?.close();
  await server?.stop();
}
finish();
