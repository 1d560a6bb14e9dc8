// The join benchmark (issue 17), run by loadtest/join-bench.sh: for each room size, the room's
// residents join and publish, then a newcomer joins JOIN_COUNT times in turn (a fresh browser
// context each time, as a new person), and each join's timeline is read from the page
// (web/static/timeline.js): click on Join to the first remote frame shown. Prints every join,
// the percentiles, and each step's median; writes them as JSON. Each size starts with a join
// that is not counted.
//   node joinbench.mjs <base url> <json out> [pages ...]    (pages: residents + the newcomer)
import { writeFileSync } from 'node:fs';
import { launchChromium, joinRoom, until, sleep, remoteVideos } from './lib.mjs';
import { TIMELINE, disorder } from './jointime.mjs';

const [base, jsonOut, ...sizes] = process.argv.slice(2);
const joins = Number(process.env.JOIN_COUNT ?? 10);
const pageSizes = (sizes.length ? sizes : ['2', '4']).map(Number);
// Residents and newcomers in browsers of their own: Chromium's fake camera is one device per
// browser, and when a newcomer in the residents' browser started sending, every resident's
// encoder stopped for about a second at once (their getStats: framesEncoded still, the
// keyframe asked for not made until the retry), in about half of the first joins into a
// fresh room. People do not share a camera; only the newcomers here share theirs.
const residentsBrowser = await launchChromium();
const browser = await launchChromium();

/** Nearest-rank percentile of sorted numbers. */
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** The server's join times from /metrics, as [sum, count]: join request to the first packet
 *  forwarded (`media`, audio as a rule) and to the first video packet (`video`). */
async function serverJoins() {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (name) => Number(text.match(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm'))?.[1] ?? NaN);
  const pair = (h) => [read(`${h}_sum`), read(`${h}_count`)];
  return { media: pair('cohort_join_duration_seconds'), video: pair('cohort_join_first_video_seconds') };
}

/** Mean milliseconds of the observations between two readings of a histogram. */
const meanMs = ([sum0, count0], [sum1, count1]) => (count1 > count0 ? Math.round(((sum1 - sum0) / (count1 - count0)) * 1000) : null);

async function residentsOf(room, n) {
  const residents = [];
  for (let i = 0; i < n; i += 1) residents.push(await joinRoom(residentsBrowser, base, room, `Resident ${i + 1}`));
  // Everyone publishes and sees everyone before the newcomers come.
  for (const r of residents) {
    await until(async () => (await r.page.evaluate(TIMELINE)).at['publish-connected'] !== undefined, 20000, `${r.name} publishes`);
    await until(async () => (await remoteVideos(r.page)).filter((v) => v.width > 0 && !v.noVideo).length >= n - 1,
      20000, `${r.name} sees the other residents`);
  }
  return residents;
}

const results = [];
try {
  for (const pages of pageSizes) {
    const room = `joinbench-${pages}-${Date.now()}`;
    const residents = await residentsOf(room, pages - 1);
    // One join first that is not counted: in a room of one resident, the resident's own first
    // media waits for a newcomer, and would count among the server's newcomer figures.
    const warm = await joinRoom(browser, base, room, 'Warm-up');
    await until(async () => (await warm.page.evaluate(TIMELINE)).at['first-frame'] !== undefined, 20000, 'the warm-up join shows a frame');
    for (const r of residents) {
      await until(async () => (await remoteVideos(r.page)).filter((v) => v.width > 0 && !v.noVideo).length >= pages - 1,
        20000, `${r.name} sees the warm-up's camera`);
    }
    await warm.context.close();
    await sleep(1000);
    const before = await serverJoins();
    const runs = [];
    for (let i = 0; i < joins; i += 1) {
      const p = await joinRoom(browser, base, room, `Newcomer ${i + 1}`);
      const t = await until(async () => {
        const got = await p.page.evaluate(TIMELINE);
        return got.at['first-frame'] !== undefined ? got : null;
      }, 20000, `newcomer ${i + 1} shows a remote frame`);
      const wrong = disorder(t.at);
      if (wrong.length) console.log(`join ${i + 1}: steps out of order: ${wrong.join('; ')}`);
      runs.push(t.at);
      console.log(`${pages} pages, join ${String(i + 1).padStart(2)}: ${String(t.at['first-frame']).padStart(5)} ms`);
      await p.context.close();
      // The room settles (the newcomer's leave reaches everyone) before the next one.
      await sleep(1000);
    }
    const after = await serverJoins();
    for (const r of residents) await r.context.close();
    const totals = runs.map((r) => r['first-frame']).sort((a, b) => a - b);
    // Each step's median, in the order of the medians.
    const names = [...new Set(runs.flatMap((r) => Object.keys(r)))];
    const medians = names.map((s) => [s, percentile(runs.map((r) => r[s]).filter((x) => x !== undefined).sort((a, b) => a - b), 50)]);
    const steps = Object.fromEntries(medians.sort((a, b) => a[1] - b[1]));
    const summary = {
      pages,
      joins: runs.length,
      p50_ms: percentile(totals, 50),
      p95_ms: percentile(totals, 95),
      max_ms: totals[totals.length - 1],
      median_steps_ms: steps,
      // Each newcomer's join request to its first forwarded packet, and to its first video
      // packet, as the server counts them (the residents' joins were counted before).
      server_first_media_mean_ms: meanMs(before.media, after.media),
      server_first_video_mean_ms: meanMs(before.video, after.video),
      runs,
    };
    results.push(summary);
    console.log(`${pages} pages: ${runs.length} joins, click to first remote frame p50 ${summary.p50_ms} ms, p95 ${summary.p95_ms} ms, max ${summary.max_ms} ms; server's join to first packet mean ${summary.server_first_media_mean_ms} ms, to first video ${summary.server_first_video_mean_ms} ms`);
    console.log(`  median step times (ms from the click): ${Object.entries(steps).map(([s, ms]) => `${s} ${ms}`).join(', ')}`);
  }
} finally {
  await browser.close();
  await residentsBrowser.close();
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
