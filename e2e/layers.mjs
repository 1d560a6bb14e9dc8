// The simulcast sequence both simulcast tests run (Chromium and Firefox publishers): a
// publisher's camera goes out in three layers; a Chromium viewer's tile picks one by its size
// (large: the top, middling: the middle, small: the lowest); with nobody on the higher layers the
// publisher stops encoding them (dynacast); enlarged again, the top layer comes back.
import { until, remoteVideos, describePcs, sleep } from './lib.mjs';

// The width of the frames a page decodes from its one inbound video.
export const INBOUND_WIDTH = `(async () => {
  let w = 0;
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') w = s.frameWidth ?? w; });
  }
  return w;
})()`;

// What a page sends on each RID of its camera: { q: { frames, width }, ... } (Firefox counts
// framesEncoded, Chromium framesSent as well).
export const OUTBOUND = `(async () => {
  const out = {};
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) out[s.rid] = { frames: s.framesSent ?? s.framesEncoded ?? 0, width: s.frameWidth ?? 0 };
    });
  }
  return out;
})()`;

/** Runs the sequence: `outbound()` reads the publisher's OUTBOUND, `viewer` is the Chromium
 *  page watching the publisher `name`'s camera. */
export async function checkLayersFollowTheTile(check, { name, outbound, viewer }) {
  await until(async () => (await remoteVideos(viewer.page)).some((v) => v.width > 0), 25000, `${viewer.name} sees ${name}`);
  const id = (await remoteVideos(viewer.page))[0].participant;
  const tile = `.tile[data-participant="${id}"][data-kind="camera"]`;
  const sizeTile = (width) => viewer.page.evaluate(([sel, w]) => {
    const t = document.querySelector(sel);
    t.style.width = `${w}px`;
    t.style.justifySelf = 'start';
  }, [tile, width]);
  const flowing = await until(async () => {
    const live = Object.entries(await outbound()).filter(([, o]) => o.frames > 0 && o.width > 0);
    return live.length === 3 ? live : null;
  }, 20000, `${name} sends three layers`).catch(() => null);
  check(flowing !== null, `${name}'s camera goes out in three layers (${JSON.stringify(flowing ?? await outbound())})`);
  const byWidth = (flowing ?? []).sort((a, b) => a[1].width - b[1].width);
  const width = (i) => byWidth[i]?.[1].width ?? -1;
  const decoded = () => viewer.page.evaluate(INBOUND_WIDTH);
  const receives = (want, what) => until(async () => ((await decoded()) === want ? want : null), 20000, what).catch(() => null);

  await sizeTile(1200);
  const big = await receives(width(2), 'a large tile gets the top layer');
  check(big !== null, `a large tile receives the top layer (${width(2)} px wide; ${viewer.name} decodes ${await decoded()})`);
  // A tile between the two lower layers' widths: the video keeps its shape, so it is taller
  // than the lowest layer and no taller than the middle one.
  await sizeTile(Math.round((width(0) + width(1)) / 2));
  const medium = await receives(width(1), 'a middling tile gets the middle layer');
  check(medium !== null, `a middling tile receives the middle layer (${width(1)} px wide; ${viewer.name} decodes ${await decoded()})`);
  await sizeTile(100);
  const small = await receives(width(0), 'a small tile gets the lowest layer');
  check(small !== null, `a small tile receives the lowest layer (${width(0)} px wide; ${viewer.name} decodes ${await decoded()})`);
  const videos = await remoteVideos(viewer.page);
  check(videos[0]?.width > 0, `and the video still plays (${videos[0]?.width} px)`);

  // Nobody receives the higher layers now: after the dynacast delay they are not encoded.
  await sleep(5000);
  const a = await outbound();
  await sleep(2000);
  const b = await outbound();
  const sent = Object.fromEntries(Object.keys(b).map((rid) => [rid, b[rid].frames - (a[rid]?.frames ?? 0)]));
  const lowRid = byWidth[0]?.[0];
  const higher = byWidth.slice(1).map(([rid]) => rid);
  check(higher.length > 0 && higher.every((rid) => sent[rid] === 0) && sent[lowRid] > 0,
    `with nobody on them, the higher layers are not encoded (frames in 2 s: ${JSON.stringify(sent)})`);

  await sizeTile(1200);
  const again = await receives(width(2), 'enlarged again, the top layer comes back');
  check(again !== null, `enlarging the tile raises it again: the top layer resumed (${width(2)} px)`);
  if (!big || !medium || !small || !again) console.log(await describePcs(viewer.page));
}
