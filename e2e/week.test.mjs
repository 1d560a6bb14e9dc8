// The life of a week, in Chromium, on a server of the test's own: during the weekly meeting
// Ada posts a chat message, a link and a PDF from the call's side panels, and Bea, in the call
// too, sees them arrive. Everyone leaves and the server restarts. The next day (the browser's
// clock is a day on) Bea opens the room's home: the message, under its day and meeting, and the
// link are there, and the PDF downloads byte for byte as an attachment that cannot run.
//   node week.test.mjs   (COHORT_BIN: the cohort binary; COHORT_ADMIN_KEY: its admin key)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, newPage, until, pastHome, reporter, api, CONTRAST_FAILURES } from './lib.mjs';

const { check, finish } = reporter('week');
const port = 18090;
const base = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), 'cohort-week-'));
const pad = (n) => String(n).padStart(2, '0');
const utcLocal = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:00`;
const pdf = Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n% week 3 \u00e9\n%%EOF\n', 'latin1');

/** Starts the test's own server on its database and data directory; resolves once it answers. */
async function startServer() {
  const child = spawn(process.env.COHORT_BIN, [
    '--http', `127.0.0.1:${port}`, '--udp-port', '53000', '--log-level', 'warn',
    '--db', `sqlite://${dir}/week.db`, '--data-dir', join(dir, 'files'), '--no-demo', '--drain-seconds', '1',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  await until(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, 15000, 'the server answers');
  return child;
}

/** Stops it by its PID and waits for it to exit. */
async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

let server = await startServer();
const browser = await launchChromium();
try {
  // A weekly meeting that began five minutes ago.
  const room = await api(base, 'POST', '/rooms', { name: 'Thursday Reading Group', time_zone: 'UTC' });
  await api(base, 'PUT', `/rooms/${room.id}/schedule`, { rrule: 'FREQ=WEEKLY', start: utcLocal(new Date(Date.now() - 5 * 60_000)), duration_minutes: 60 });
  const link = async (name) => {
    const m = await api(base, 'POST', `/rooms/${room.id}/members`, { display_name: name });
    return (await api(base, 'POST', `/rooms/${room.id}/members/${m.id}/invites`, {})).token;
  };
  const ada = await link('Ada');
  const bea = await link('Bea');
  const inCall = async (name, token) => {
    const p = await newPage(browser, { base, name });
    await p.page.goto(`${base}/r/${room.slug}?t=${token}`);
    await pastHome(p.page);
    await p.page.fill('#name', name);
    await p.page.waitForSelector('#join:not([disabled])');
    await p.page.click('#join');
    await p.page.waitForSelector('#toggle-board:not([hidden])');
    return p;
  };
  const a = await inCall('Ada', ada);
  const b = await inCall('Bea', bea);

  // Ada says something, shares a link and a PDF, all from the call.
  await a.page.click('#toggle-chat');
  await a.page.fill('#chat-input', 'Read chapter 4 for next week');
  await a.page.press('#chat-input', 'Enter');
  await a.page.keyboard.press('Escape');
  await a.page.click('#toggle-board');
  await a.page.fill('#board-title', 'The chapter online');
  await a.page.fill('#board-url', 'https://example.org/chapter-4');
  await a.page.click('#board-share button[type=submit]');
  await a.page.check('input[name=board-kind][value=file]');
  await a.page.fill('#board-title', 'Chapter 4 notes');
  await a.page.setInputFiles('#board-file', { name: 'chapter 4 notes.pdf', mimeType: 'application/pdf', buffer: pdf });
  await a.page.click('#board-share button[type=submit]');
  const titles = (page) => page.evaluate(() => [...document.querySelectorAll('#board-list .board-title')].map((n) => n.textContent));
  await b.page.click('#toggle-board');
  const live = await until(async () => (await titles(b.page)).length === 2, 5000, 'Bea sees both').then(() => true).catch(() => false);
  check(live, `Bea sees the link and the PDF in her call's board without a reload (${JSON.stringify(await titles(b.page))})`);

  const low = await b.page.evaluate(CONTRAST_FAILURES);
  check(low.length === 0, `the call's board panel passes the contrast check${low.length ? ': ' + JSON.stringify(low) : ''}`);
  await b.page.focus('#grid');
  await b.page.keyboard.press('b');
  const closed = await b.page.evaluate(() => [document.querySelector('#board-panel').hidden, document.querySelector('#toggle-board').getAttribute('aria-pressed')]);
  check(closed[0] === true && closed[1] === 'false', `B closes the board panel (${JSON.stringify(closed)})`);
  await b.page.click('#toggle-meetings');
  const reg = await until(() => b.page.evaluate(() => document.querySelector('#meetings-panel #meetings-list details summary')?.textContent), 5000, 'meetings').catch(() => null);
  check(Boolean(reg), `the call's Meetings panel lists this meeting (${reg})`);

  // Everyone leaves; the server restarts.
  for (const p of [a, b]) {
    await p.page.click('#leave');
    await p.page.waitForSelector('#rejoin');
    await p.context.close();
  }
  await stopServer(server);
  server = await startServer();

  // The next day, Bea opens the room's home.
  const next = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await next.clock.install({ time: new Date(Date.now() + 24 * 3600_000) });
  const page = await next.newPage();
  page.on('pageerror', (e) => console.log(`[Bea] page error: ${e.message}`));
  await page.goto(`${base}/r/${room.slug}?t=${bea}`);
  await page.waitForSelector('#home-chat-log');
  // The home loads its chat after the page: wait for the messages themselves (an empty list is
  // truthy, and reading it at once once failed this check before the history had arrived).
  const texts = () => page.evaluate(() => [...document.querySelectorAll('#home-chat-log li[data-id] .text')].map((n) => n.textContent));
  const said = await until(async () => { const t = await texts(); return t.length > 0 && t; }, 5000, 'chat')
    .catch(() => texts());
  check(said.includes('Read chapter 4 for next week'), `the message is there after the restart (${JSON.stringify(said)})`);
  const heads = await page.evaluate(() => [...document.querySelectorAll('#home-chat-log .chat-day, #home-chat-log .chat-meeting')].map((n) => n.textContent));
  check(heads.length === 2 && heads[1].startsWith(`${heads[0]} meeting, `), `under its day and its meeting (${JSON.stringify(heads)})`);
  await page.click('#tab-board');
  const kept = await until(async () => (await titles(page)).length === 2 && titles(page), 5000, 'board').catch(() => []);
  check(kept.includes('The chapter online') && kept.includes('Chapter 4 notes'), `the link and the PDF are on the board (${JSON.stringify(kept)})`);
  const href = await page.evaluate(() => document.querySelector('#board-list a.board-title[href^="https:"]')?.getAttribute('href'));
  check(href === 'https://example.org/chapter-4', `the link goes where it was shared to (${href})`);
  const got = await page.evaluate(async () => {
    const a = [...document.querySelectorAll('#board-list a.board-title')].find((n) => n.textContent === 'Chapter 4 notes');
    const res = await fetch(a.getAttribute('href'));
    return {
      bytes: Array.from(new Uint8Array(await res.arrayBuffer())),
      disposition: res.headers.get('content-disposition'),
      csp: res.headers.get('content-security-policy'),
      nosniff: res.headers.get('x-content-type-options'),
    };
  });
  check(Buffer.from(got.bytes).equals(pdf), `the PDF downloads byte for byte (${got.bytes.length} of ${pdf.length} bytes)`);
  check(got.disposition === 'attachment; filename="chapter 4 notes.pdf"; filename*=UTF-8\'\'chapter%204%20notes.pdf', `as an attachment, named in RFC 6266 form (${got.disposition})`);
  check(got.csp === "default-src 'none'; sandbox" && got.nosniff === 'nosniff', `that cannot run (${got.csp}; ${got.nosniff})`);
  await next.close();
} catch (e) {
  check(false, e.message);
} finally {
  await browser.close();
  await stopServer(server).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
finish();
