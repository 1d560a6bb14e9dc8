// Three browser participants in one call: each sees and hears the other two; mute, camera off,
// screen share and chat reach the others; a hostile display name shows as text. Prints each
// participant's join time (click on "Join" to first decoded remote frame).
//   node call.test.mjs http://127.0.0.1:18080
import { mkdirSync } from 'node:fs';
import { launchChromium, newPage, until, remoteVideos, inboundAudioPackets, describePcs, CONTRAST_FAILURES, reporter } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const room = `call-${Date.now()}`;
const XSS = '<img src=x onerror=alert(1)>';
const browser = await launchChromium();
const { check, finish } = reporter('call');

async function join(name) {
  const p = await newPage(browser, { base, name });
  p.page.on('dialog', async (d) => {
    check(false, `no dialog may open (saw "${d.message()}" at ${name})`);
    await d.dismiss();
  });
  await p.page.goto(`${base}/r/${room}`);
  if (name === 'Ada') {
    await p.page.waitForSelector('#join:not([disabled])');
    const low = await p.page.evaluate(CONTRAST_FAILURES);
    check(low.length === 0, `text contrast meets WCAG AA before joining (${JSON.stringify(low)})`);
  }
  await p.page.fill('#name', name);
  await p.page.waitForSelector('#join:not([disabled])');
  p.clicked = Date.now();
  await p.page.click('#join');
  return p;
}

const playing = async (page, kind = 'camera') =>
  (await remoteVideos(page)).filter((v) => v.kind === kind && v.width > 0 && !v.noVideo);

try {
  const ada = await join('Ada');
  const grace = await join('Grace');
  const mallory = await join(XSS);
  const peers = [ada, grace, mallory];
  globalThis.__peers = peers;

  // Everyone sees two remote videos playing, and hears two remote audio streams.
  // Join time: click on Join to the first decoded remote frame (for the first to arrive this
  // includes waiting for the others).
  await Promise.all(peers.map(async (p) => {
    await until(async () => (await playing(p.page)).length >= 1, 15000, `${p.name} sees a video`);
    p.joinMs = Date.now() - p.clicked;
  }));
  for (const p of peers) console.log(`join time ${JSON.stringify(p.name)}: ${p.joinMs} ms (click on Join to first decoded remote frame)`);
  for (const p of peers) {
    await until(async () => (await playing(p.page)).length === 2, 15000, `${p.name} sees two videos`);
  }
  for (const p of peers) {
    const t0 = await playing(p.page);
    const a0 = await inboundAudioPackets(p.page);
    await new Promise((r) => setTimeout(r, 1500));
    const t1 = await playing(p.page);
    const a1 = await inboundAudioPackets(p.page);
    const advancing = t1.every((v) => v.time > (t0.find((w) => w.participant === v.participant)?.time ?? 0));
    check(t1.length === 2 && advancing, `${p.name}: two remote videos playing (${t1.map((v) => v.width).join(', ')} px wide)`);
    const audioTracks = await p.page.evaluate(() => document.querySelectorAll('#audio-sinks audio').length);
    check(audioTracks === 2 && a1 > a0, `${p.name}: two remote audio streams, inbound audio packets ${a0} -> ${a1}`);
  }

  // Every control has an accessible name, and the help dialog opens from the keyboard.
  const unlabeled = await ada.page.evaluate(() => {
    const named = (e) => (e.getAttribute('aria-label') || e.textContent || '').trim()
      || (e.id && document.querySelector(`label[for="${e.id}"]`)?.textContent.trim());
    return [...document.querySelectorAll('button, input, select, textarea, meter')]
      .filter((e) => !e.closest('[hidden]') && !named(e)).map((e) => e.outerHTML.slice(0, 60));
  });
  check(unlabeled.length === 0, `every control has a label (${JSON.stringify(unlabeled)})`);
  // Every tile says how that person's connection looks, as an image with a text alternative.
  const grades = await ada.page.evaluate(() => [...document.querySelectorAll('.tile')].map((t) => {
    const q = t.querySelector('.quality');
    return q && q.getAttribute('role') === 'img' ? q.getAttribute('aria-label') : null;
  }));
  check(grades.length === 3 && grades.every((g) => /^Connection (good|unstable|poor)$/.test(g ?? '')),
    `each tile shows a labelled connection indicator (${JSON.stringify(grades)})`);
  const lowContrast = await ada.page.evaluate(CONTRAST_FAILURES);
  check(lowContrast.length === 0, `text contrast meets WCAG AA in the call (${JSON.stringify(lowContrast)})`);
  await ada.page.keyboard.press('?');
  const helpOpen = await ada.page.evaluate(() => document.querySelector('#help').open);
  await ada.page.keyboard.press('Escape');
  check(helpOpen, 'the keyboard-shortcut help opens with ?');

  // The hostile name is shown as text, never parsed as HTML.
  const shown = await ada.page.evaluate(() => [...document.querySelectorAll('.tile .name')].map((n) => n.textContent));
  const imgs = await ada.page.evaluate(() => document.querySelectorAll('.tile img, #participant-list img').length);
  check(shown.includes(XSS) && imgs === 0, `a name like ${XSS} shows literally (${JSON.stringify(shown)})`);

  const tileOf = (page, who) => page.evaluate((n) => {
    const t = [...document.querySelectorAll('.tile.camera')].find((x) => x.querySelector('.name').textContent === n);
    return t ? { micOff: !t.querySelector('.mic-off').hidden, noVideo: t.classList.contains('no-video'), initials: t.querySelector('.avatar').textContent } : null;
  }, who);

  // Muting the microphone shows at the others.
  await ada.page.click('#toggle-mic');
  for (const p of [grace, mallory]) {
    await until(async () => (await tileOf(p.page, 'Ada'))?.micOff, 3000, `${p.name} sees Ada muted`).catch(() => null);
    check((await tileOf(p.page, 'Ada'))?.micOff === true, `${p.name} sees Ada's microphone off`);
  }
  await ada.page.click('#toggle-mic');
  await until(async () => !(await tileOf(grace.page, 'Ada'))?.micOff, 3000, 'unmute shows').catch(() => null);
  check((await tileOf(grace.page, 'Ada'))?.micOff === false, 'Grace sees Ada unmuted again');

  // Turning the camera off shows initials.
  await ada.page.keyboard.press('v');
  for (const p of [grace, mallory]) {
    await until(async () => (await tileOf(p.page, 'Ada'))?.noVideo, 3000, `${p.name} sees Ada's initials`).catch(() => null);
    const t = await tileOf(p.page, 'Ada');
    check(t?.noVideo === true && t.initials === 'A', `${p.name} sees Ada's initials (${t?.initials}) with her camera off`);
  }
  await ada.page.keyboard.press('v');
  await until(async () => (await playing(grace.page)).length === 2, 5000, 'camera back').catch(() => null);
  check((await playing(grace.page)).length === 2, 'Ada\'s camera comes back at Grace');

  // A screen share arrives at the other two as an extra, large video.
  await grace.page.click('#toggle-share');
  for (const p of [ada, mallory]) {
    const ok = await until(async () => (await playing(p.page, 'screen')).length === 1, 8000, `${p.name} sees the share`).catch(() => false);
    check(Boolean(ok), `${p.name} sees Grace's screen share as an extra video`);
  }

  // Chat reaches the others with the sender's name; a closed panel counts unread messages.
  await ada.page.click('#toggle-chat');
  await ada.page.fill('#chat-input', 'Welcome to week 3 <b>everyone</b>');
  await ada.page.press('#chat-input', 'Enter');
  for (const p of [grace, mallory]) {
    const ok = await until(() => p.page.evaluate(() => document.querySelector('#chat-log li .text')?.textContent), 3000, 'chat').catch(() => null);
    const sender = await p.page.evaluate(() => document.querySelector('#chat-log li .sender')?.textContent);
    const badge = await p.page.evaluate(() => document.querySelector('#unread').textContent);
    check(ok === 'Welcome to week 3 <b>everyone</b>' && sender === 'Ada' && badge === '1', `${p.name} gets the chat from Ada (unread ${badge})`);
  }

  // The picture for the README: a three-person call with screen share and chat open.
  await grace.page.click('#toggle-chat');
  await grace.page.fill('#chat-input', 'Sharing the worked example now.');
  await grace.page.press('#chat-input', 'Enter');
  await mallory.page.fill('#chat-input', 'Thanks!').catch(() => {});
  await new Promise((r) => setTimeout(r, 1500));
  if (process.env.COHORT_SCREENSHOT) {
    mkdirSync('../docs/images', { recursive: true });
    await ada.page.screenshot({ path: '../docs/images/call.png' });
    console.log('wrote docs/images/call.png');
  }
} catch (e) {
  check(false, e.message);
  for (const p of (globalThis.__peers ?? [])) {
    console.log(p.name, JSON.stringify(await remoteVideos(p.page)), await describePcs(p.page));
  }
} finally {
  await browser.close();
}
finish();
