// What a participant shows decides what it receives: a remote video hidden, or moved out of
// view, stops arriving (the page tells the server its layout, and the server pauses that
// subscription); shown again, it comes back. Measured on the receiving side, from getStats.
//   node layout.test.mjs http://127.0.0.1:18080
import { launchChromium, joinRoom, until, remoteVideos, describePcs, reporter, FRAMES_IN, sleep } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const { check, finish } = reporter('layout');

/** Frames that arrive at `page` over `ms`, after `settle` ms for what was on its way. */
async function framesOver(page, ms, settle = 0) {
  await sleep(settle);
  const a = await page.evaluate(FRAMES_IN);
  await sleep(ms);
  return (await page.evaluate(FRAMES_IN)) - a;
}

/** Milliseconds until frames arrive again at `page`, or null when none came in 10 s. */
async function timeToFrames(page, from) {
  const start = await page.evaluate(FRAMES_IN);
  const came = await until(async () => (await page.evaluate(FRAMES_IN)) > start + 2, 10000, 'frames')
    .catch(() => false);
  return came ? Date.now() - from : null;
}

let browser;
try {
  browser = await launchChromium();
  const room = `layout-${Date.now()}`;
  const ada = await joinRoom(browser, base, room, 'Ada');
  const bea = await joinRoom(browser, base, room, 'Bea');
  await until(async () => (await remoteVideos(bea.page)).some((v) => v.width > 0), 20000, 'Bea sees Ada');
  const adaId = (await remoteVideos(bea.page))[0].participant;
  const tile = `.tile[data-participant="${adaId}"][data-kind="camera"]`;

  const shown = await framesOver(bea.page, 1500);
  check(shown > 10, `Bea receives Ada's video while it is on screen (${shown} frames in 1.5 s)`);

  // Hidden (display: none): the server stops sending it.
  await bea.page.evaluate((sel) => { document.querySelector(sel).style.display = 'none'; }, tile);
  const hidden = await framesOver(bea.page, 2000, 1000);
  check(hidden === 0, `a hidden video receives no frames (${hidden} in 2 s, after 1 s to settle)`);
  check(await ada.page.evaluate(() => document.querySelector('#grid') !== null), 'Ada is still in the call');

  let at = Date.now();
  await bea.page.evaluate((sel) => { document.querySelector(sel).style.display = ''; }, tile);
  const back = await timeToFrames(bea.page, at);
  console.log(`layout: shown again -> frames in ${back} ms`);
  check(back !== null, `shown again, it comes back (${back} ms to frames)`);

  // Out of view (moved below the viewport): the same.
  await bea.page.evaluate((sel) => { document.querySelector(sel).style.transform = 'translateY(5000px)'; }, tile);
  const away = await framesOver(bea.page, 2000, 1000);
  check(away === 0, `a video out of view receives no frames (${away} in 2 s)`);
  at = Date.now();
  await bea.page.evaluate((sel) => { document.querySelector(sel).style.transform = ''; }, tile);
  const again = await timeToFrames(bea.page, at);
  check(again !== null, `back in view, it comes back (${again} ms to frames)`);
  const videos = await remoteVideos(bea.page);
  check(videos.length === 1 && videos[0].width > 0, `and it plays (${videos[0]?.width} px wide)`);
  if (hidden !== 0 || away !== 0) console.log(await describePcs(bea.page));
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await browser?.close();
}
finish();
