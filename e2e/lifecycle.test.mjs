// Participants come and go: a leaver's tile disappears within 2 s, a reload rejoins without a
// ghost tile, and a cut connection shows "Reconnecting…" and recovers without a reload.
//   node lifecycle.test.mjs http://127.0.0.1:18080   (the server runs with --test-hooks)
import { launchChromium, until, remoteVideos, joinRoom, describePcs, reporter } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const room = `life-${Date.now()}`;
const browser = await launchChromium();
const { check, finish } = reporter('lifecycle');
const cameraTiles = async (page) => (await remoteVideos(page)).filter((v) => v.kind === 'camera');
const playingCount = async (page) => (await cameraTiles(page)).filter((v) => v.width > 0 && !v.noVideo).length;
const names = (page) => page.evaluate(() => [...document.querySelectorAll('.tile.camera .name')].map((n) => n.textContent));

let peers = [];
try {
  const ada = await joinRoom(browser, base, room, 'Ada');
  const bea = await joinRoom(browser, base, room, 'Bea');
  const cy = await joinRoom(browser, base, room, 'Cy');
  peers = [ada, bea, cy];
  for (const p of peers) await until(async () => (await playingCount(p.page)) === 2, 15000, `${p.name} sees two videos`);

  // A participant leaves; its tile disappears from the others within 2 s.
  await cy.page.click('#leave');
  const left = Date.now();
  for (const p of [ada, bea]) {
    const gone = await until(async () => !(await names(p.page)).includes('Cy'), 2000, `${p.name} drops Cy`).catch(() => false);
    check(Boolean(gone), `${p.name}: Cy's tile gone ${Date.now() - left} ms after Leave`);
  }
  const endText = await cy.page.evaluate(() => document.querySelector('[role=status]')?.textContent);
  check(endText === 'You left the call.', `Cy sees "${endText}" and a Rejoin button`);

  // Reload and rejoin: the name is remembered, and nobody keeps a ghost tile.
  await bea.page.reload();
  await bea.page.waitForSelector('#join:not([disabled])');
  const remembered = await bea.page.inputValue('#name');
  check(remembered === 'Bea', `the name is remembered across a reload (${remembered})`);
  await bea.page.click('#join');
  await until(async () => (await playingCount(bea.page)) === 1, 10000, 'Bea sees Ada again').catch(() => null);
  await until(async () => (await names(ada.page)).filter((n) => n === 'Bea').length === 1 && (await playingCount(ada.page)) === 1, 10000, 'Ada sees one Bea').catch(() => null);
  const adaSees = await names(ada.page);
  check(adaSees.filter((n) => n === 'Bea').length === 1 && (await playingCount(ada.page)) === 1, `after Bea's reload Ada sees ${JSON.stringify(adaSees)} with one video playing`);
  check((await playingCount(bea.page)) === 1, 'Bea sees Ada again after her reload');

  // The network drops: every signaling connection is cut at the server. Each page keeps a log of
  // what its banner showed, since a quick recovery hides it again within a second.
  for (const p of [ada, bea]) {
    await p.page.evaluate(() => {
      window.__banners = [];
      const b = document.querySelector('#banner');
      new MutationObserver(() => {
        if (!b.hidden && b.textContent) window.__banners.push(b.textContent);
      }).observe(b, { childList: true, subtree: true, attributes: true });
    });
  }
  const res = await fetch(`${base}/test/drop-signaling`, { method: 'POST' });
  check(res.status === 204, `the test hook cut the connections (${res.status})`);
  const dropped = Date.now();
  for (const p of [ada, bea]) {
    const shown = await until(() => p.page.evaluate(() => window.__banners[0]), 3000, 'banner').catch(() => '');
    check(shown.startsWith('Reconnecting'), `${p.name} shows "${shown}"`);
  }
  for (const p of [ada, bea]) {
    const back = await until(async () => {
      const vids = await cameraTiles(p.page);
      const before = vids.filter((v) => v.width > 0 && !v.noVideo);
      if (before.length !== 1) return false;
      await new Promise((r) => setTimeout(r, 200));
      const after = (await cameraTiles(p.page)).filter((v) => v.width > 0 && v.time > before[0].time);
      return after.length === 1;
    }, 5000, `${p.name} media flows again`).catch(() => false);
    const banner = await p.page.evaluate(() => !document.querySelector('#banner').hidden);
    check(Boolean(back) && !banner, `${p.name}: media flows again ${Date.now() - dropped} ms after the cut, without a reload`);
  }
  check((await names(ada.page)).length === 2, `no ghost tiles after reconnecting (${JSON.stringify(await names(ada.page))})`);
} catch (e) {
  check(false, e.message);
  for (const p of peers) console.log(p.name, JSON.stringify(await remoteVideos(p.page)), await describePcs(p.page));
} finally {
  await browser.close();
}
finish();
