// Simulcast from Firefox ESR: Fiona's camera goes out in layers (RIDs q, h, f, as Firefox
// encodes them from the web client's sendEncodings); Bea, in Chromium, receives one, chosen by
// the size of Fiona's tile on her screen. A large tile gets the top layer Firefox sends, a small
// one the lowest, and with nobody on the higher layers, Firefox stops encoding them (dynacast);
// enlarged again, the top layer comes back. Its own server, started `--simulcast true`.
//   node firefox-simulcast.test.mjs   (COHORT_BIN: the cohort binary; run inside the namespace)
import { ownServer } from './server.mjs';
import { startFirefox, firefoxJoins } from './firefox.mjs';
import { launchChromium, joinRoom, until, remoteVideos, describePcs, reporter, sleep } from './lib.mjs';

const { check, finish } = reporter('firefox-simulcast');
const port = 18099;
const media = 53350;

// The width of the frames a page decodes from its one inbound video.
const INBOUND_WIDTH = `(async () => {
  let w = 0;
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') w = s.frameWidth ?? w; });
  }
  return w;
})()`;

// What a page sends on each RID of its camera: { q: { frames, width }, ... }.
const OUTBOUND = `(async () => {
  const out = {};
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) out[s.rid] = { frames: s.framesEncoded ?? s.framesSent ?? 0, width: s.frameWidth ?? 0 };
    });
  }
  return out;
})()`;

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
  console.log('DBG settings', JSON.stringify(await ff.exec("return window.__pcs.flatMap((pc) => pc.getSenders().map((s) => [s.track?.kind, s.track?.getSettings(), s.getParameters().encodings]));")));
  const bea = await joinRoom(browser, base, room, 'Bea');
  await until(async () => (await remoteVideos(bea.page)).some((v) => v.width > 0), 25000, 'Bea sees Fiona');
  const fionaId = (await remoteVideos(bea.page))[0].participant;
  const tile = `.tile[data-participant="${fionaId}"][data-kind="camera"]`;
  const sizeTile = (width) => bea.page.evaluate(([sel, w]) => {
    const t = document.querySelector(sel);
    t.style.width = `${w}px`;
    t.style.justifySelf = 'start';
  }, [tile, width]);

  const flowing = await until(async () => {
    const out = await outbound();
    const live = Object.entries(out).filter(([, o]) => o.frames > 0 && o.width > 0);
    return live.length >= 2 ? live : null;
  }, 20000, 'Fiona sends two layers or more').catch(() => null);
  check(flowing !== null, `Fiona's camera goes out from Firefox in several layers (${JSON.stringify(flowing ?? await outbound())})`);
  const byWidth = (flowing ?? []).sort((a, b) => a[1].width - b[1].width);
  const [lowRid, low] = byWidth[0] ?? ['', { width: -1 }];
  const top = byWidth[byWidth.length - 1]?.[1] ?? { width: -1 };
  const inboundWidth = (want, ms, what) => until(async () => {
    const w = await bea.page.evaluate(INBOUND_WIDTH);
    return w === want ? w : null;
  }, ms, what).catch(() => null);

  await sizeTile(1200);
  const big = await inboundWidth(top.width, 20000, 'a large tile gets the top layer');
  check(big !== null, `a large tile receives the top layer Firefox sends (${top.width} px wide; Bea decodes ${await bea.page.evaluate(INBOUND_WIDTH)})`);
  await sizeTile(100);
  const small = await inboundWidth(low.width, 15000, 'a small tile gets the low layer');
  console.log('DBG admin', JSON.stringify(await (await fetch(`${base}/api/v1/admin/rooms`, { headers: { authorization: `Bearer ${process.env.COHORT_ADMIN_KEY}` } })).json()).slice(0, 3000));
  check(small !== null, `shrinking the tile lowers the inbound frameWidth to the low layer's (${low.width} px; Bea decodes ${await bea.page.evaluate(INBOUND_WIDTH)})`);

  // Nobody receives the higher layers now: after the dynacast delay Firefox stops encoding them.
  await sleep(5000);
  const a = await outbound();
  await sleep(2000);
  const b = await outbound();
  const sent = Object.fromEntries(Object.keys(b).map((rid) => [rid, b[rid].frames - (a[rid]?.frames ?? 0)]));
  const higher = byWidth.slice(1).map(([rid]) => rid);
  check(higher.length > 0 && higher.every((rid) => sent[rid] === 0) && sent[lowRid] > 0,
    `with nobody on them, Firefox encodes none of the higher layers (frames in 2 s: ${JSON.stringify(sent)})`);

  await sizeTile(1200);
  const again = await inboundWidth(top.width, 20000, 'enlarged again, the top layer comes back');
  check(again !== null, `enlarging the tile raises it again: the top layer resumed (${top.width} px)`);
  if (!big || !small || !again) console.log(await describePcs(bea.page));
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await firefox?.quit();
  await browser?.close();
  await server?.stop();
}
finish();
