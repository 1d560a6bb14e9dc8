// The join timeline: two pages join one room, one after the other; each records its join step
// by step (web/static/timeline.js). Prints both timelines and checks that the steps come in the
// order the protocol makes them; the milliseconds are the join benchmark's (loadtest/join-bench.sh).
//   node join.test.mjs http://127.0.0.1:18080
import { launchChromium, joinRoom, until, reporter } from './lib.mjs';
import { TIMELINE, disorder, describeTimeline } from './jointime.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const room = `join-${Date.now()}`;
const browser = await launchChromium();
const { check, finish } = reporter('join');

const timeline = (p) => p.page.evaluate(TIMELINE);

try {
  const first = await joinRoom(browser, base, room, 'First');
  // The first is alone until the second arrives: its publish side settles on its own.
  await until(async () => (await timeline(first)).at['publish-connected'] !== undefined, 15000, 'the first page publishes');
  const second = await joinRoom(browser, base, room, 'Second');
  for (const p of [first, second]) {
    const t = await until(async () => {
      const got = await timeline(p);
      return got.at['first-frame'] !== undefined ? got : null;
    }, 15000, `${p.name} shows a remote frame`);
    console.log(describeTimeline(p.name, t));
    const { at } = t;
    const wrong = disorder(at);
    check(wrong.length === 0, `${p.name}: every join step, in order${wrong.length ? ` (${wrong.join('; ')})` : ''}`);
    check(at.media < 0, `${p.name}: the camera and microphone were ready before the click (media at ${at.media} ms)`);
  }
} catch (e) {
  check(false, `the join test ran to the end (${e.message})`);
} finally {
  await browser.close();
}
finish();
