// Errors a person can act on: a blocked camera and microphone still let them join (and the
// others see initials and a muted microphone); a full room says so; a server that cannot be
// reached says so; a browser without WebRTC is told plainly.
//   node errors.test.mjs http://127.0.0.1:18080   (COHORT_SMALL_SERVER: a server whose rooms hold one)
import { spawn } from 'node:child_process';
import { launchChromium, newPage, until, joinRoom, reporter } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const small = process.env.COHORT_SMALL_SERVER ?? 'http://127.0.0.1:18081';
const room = `errors-${Date.now()}`;
const browser = await launchChromium();
const { check, finish } = reporter('errors');
const statusText = (page) => page.evaluate(() => document.querySelector('#prejoin-status, [role=status], [role=alert]')?.textContent ?? '');

try {
  // Camera and microphone blocked: the pre-join screen says so, and joining still works.
  const host = await joinRoom(browser, base, room, 'Host');
  const denied = await newPage(browser, { base, name: 'NoDevices' });
  await denied.page.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
  });
  await denied.page.goto(`${base}/r/${room}`);
  await denied.page.waitForSelector('#join:not([disabled])');
  const said = await statusText(denied.page);
  check(/camera is blocked/.test(said) && /join without them/.test(said), `blocked devices are explained: "${said}"`);
  await denied.page.fill('#name', 'Nadia');
  await denied.page.click('#join');
  const seen = await until(() => host.page.evaluate(() => {
    const t = [...document.querySelectorAll('.tile.camera')].find((x) => x.querySelector('.name').textContent === 'Nadia');
    return t && t.classList.contains('no-video') && !t.querySelector('.mic-off').hidden && t.querySelector('.avatar').textContent;
  }), 5000, 'host sees Nadia').catch(() => null);
  check(seen === 'N', `she joins without devices; the others see her initials (${seen}) and a muted microphone`);

  // A full room.
  const first = await joinRoom(browser, small, 'full', 'First');
  await until(() => first.page.evaluate(() => Boolean(document.querySelector('.tile'))), 5000, 'first in');
  const second = await newPage(browser, { base: small, name: 'Second' });
  await second.page.goto(`${small}/r/full`);
  await second.page.fill('#name', 'Second');
  await second.page.waitForSelector('#join:not([disabled])');
  await second.page.click('#join');
  const full = await until(async () => {
    const t = await statusText(second.page);
    return /full/.test(t) ? t : null;
  }, 5000, 'room full message').catch(() => '');
  check(Boolean(full), `a full room says so on the pre-join screen: "${full}"`);

  // A server that cannot be reached: it goes away after the page has loaded.
  const gone = spawn(process.env.COHORT_BIN, ['--http', '127.0.0.1:18082', '--udp-port', '52100', '--log-level', 'error',
  '--db', `sqlite://${process.env.COHORT_DATA_DIR}/gone.db`, '--no-demo', '--open-rooms'], { stdio: 'ignore' });
  await until(() => fetch('http://127.0.0.1:18082/healthz').then((r) => r.ok).catch(() => false), 5000, 'third server');
  const lonely = await newPage(browser, { base: 'http://127.0.0.1:18082', name: 'Lonely' });
  await lonely.page.goto('http://127.0.0.1:18082/r/lonely');
  await lonely.page.fill('#name', 'Lonely');
  await lonely.page.waitForSelector('#join:not([disabled])');
  gone.kill();
  await until(() => fetch('http://127.0.0.1:18082/healthz').then(() => false).catch(() => true), 5000, 'third server gone');
  await lonely.page.click('#join');
  const unreachable = await until(async () => {
    const t = await statusText(lonely.page);
    return /reach the server/.test(t) ? t : null;
  }, 5000, 'unreachable message').catch(() => '');
  check(Boolean(unreachable), `an unreachable server is explained: "${unreachable}"`);

  // A browser without WebRTC.
  const old = await newPage(browser, { base, name: 'Old' });
  await old.page.addInitScript(() => { delete window.RTCPeerConnection; });
  await old.page.goto(`${base}/r/${room}`);
  const told = await until(async () => {
    const t = await statusText(old.page);
    return /cannot join calls/.test(t) ? t : null;
  }, 5000, 'unsupported message').catch(() => '');
  check(Boolean(told), `an unsupported browser is told plainly: "${told}"`);
} catch (e) {
  check(false, e.message);
} finally {
  await browser.close();
}
finish();
