// Large rooms in the browser: the grid shows a page of tiles at a time (here two, with
// `?tiles=2`), the others on further pages and sent nothing; a pinned person, or a shared
// screen, takes the stage with the others in a strip. Three Chromium pages.
//   node grid.test.mjs http://127.0.0.1:18080
import { launchChromium, joinRoom, until, remoteVideos, CONTRAST_FAILURES, reporter, FRAMES_IN, sleep } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const { check, finish } = reporter('grid');

// What Ada's grid shows: each tile's name, kind, whether it is on screen and on the stage.
const TILES = `[...document.querySelectorAll('#grid .tile')].map((t) => ({
  name: t.querySelector('.name').textContent, kind: t.dataset.kind,
  shown: !t.hidden && t.getClientRects().length > 0, stage: t.classList.contains('on-stage'),
}))`;

let browser;
try {
  browser = await launchChromium();
  const room = `grid-${Date.now()}`;
  const ada = await joinRoom(browser, base, `${room}?tiles=2`, 'Ada');
  const bea = await joinRoom(browser, base, room, 'Bea');
  const cal = await joinRoom(browser, base, room, 'Cal');
  const playing = async () => (await remoteVideos(ada.page)).filter((v) => v.kind === 'camera' && v.width > 0);
  await until(async () => (await playing()).length >= 1, 20000, 'Ada sees a video');
  await until(async () => (await ada.page.evaluate(TILES)).length === 3, 10000, 'three tiles');

  // A page of two: Ada's own tile and one other; the third is on page 2.
  let tiles = await ada.page.evaluate(TILES);
  const shown = tiles.filter((t) => t.shown).map((t) => t.name);
  check(shown.length === 2 && shown.includes('Ada (you)'), `page 1 shows two tiles, Ada's own among them (${JSON.stringify(shown)})`);
  const status = async () => ada.page.textContent('#page-status');
  check((await status()) === 'Page 1 of 2' && await ada.page.isVisible('#page-next'), `the pager says "${await status()}"`);
  const first = shown.find((n) => n !== 'Ada (you)');
  const second = tiles.find((t) => !t.shown).name;

  // The hidden one is sent nothing: only the shown one's frames arrive.
  await sleep(1500);
  const a0 = await ada.page.evaluate(FRAMES_IN);
  await sleep(2000);
  const perSecond = ((await ada.page.evaluate(FRAMES_IN)) - a0) / 2;
  check(perSecond > 5 && perSecond < 30, `frames arrive for one video only (${perSecond} a second: the fake camera sends about 20, two would be about 40)`);

  // Page 2: the other person, playing.
  await ada.page.click('#page-next');
  tiles = await ada.page.evaluate(TILES);
  const page2 = tiles.filter((t) => t.shown).map((t) => t.name);
  check((await status()) === 'Page 2 of 2' && page2.length === 1 && page2[0] === second, `page 2 shows ${second} (${JSON.stringify(page2)})`);
  const plays = await until(async () => (await playing()).some((v) => v.width > 0), 10000, 'page 2 plays').catch(() => false);
  check(Boolean(plays), `${second}'s video plays on page 2`);

  // Pinned: on the stage, with the rest in the strip; the pin button says so, by keyboard too.
  await ada.page.focus(`#grid .tile[data-kind="camera"] .pin[aria-label="Pin ${second}"]`);
  await ada.page.keyboard.press('Enter');
  tiles = await ada.page.evaluate(TILES);
  const staged = tiles.filter((t) => t.stage);
  check(staged.length === 1 && staged[0].name === second && staged[0].shown, `${second} is pinned on the stage (${JSON.stringify(staged)})`);
  const pressed = await ada.page.getAttribute(`#grid .pin[aria-label="Unpin ${second}"]`, 'aria-pressed');
  check(pressed === 'true', `the pin button reads "Unpin ${second}", pressed`);
  await ada.page.click(`#grid .pin[aria-label="Unpin ${second}"]`);
  check((await ada.page.evaluate(TILES)).every((t) => !t.stage), 'unpinned, nobody is on the stage');

  // A shared screen takes the stage.
  await bea.page.click('#toggle-share');
  const onStage = await until(async () => (await ada.page.evaluate(TILES)).some((t) => t.kind === 'screen' && t.stage && t.shown), 15000, 'the screen on stage')
    .catch(() => false);
  check(Boolean(onStage), `Bea's shared screen is on Ada's stage (${JSON.stringify(await ada.page.evaluate(TILES))})`);

  const low = await ada.page.evaluate(CONTRAST_FAILURES);
  check(low.length === 0, `text contrast meets WCAG AA with the pager and the stage (${JSON.stringify(low)})`);
  check(Boolean(cal) && first !== second, `three people, two of them on different pages (${first}, ${second})`);
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await browser?.close();
}
finish();
