// Shared notes in Chromium, on a server of the test's own: Ada, in the weekly call, and Bea, on
// the room's home, type into the meeting's minutes at the same moment and end with the same text
// holding both edits. Bea is cut off (the notes-outage test hook), keeps typing, and her edits
// merge when she is back. The server is killed (-9) while Ada types: nothing Bea had already
// received is lost, and after a restart a third page loads the same text, which is also what
// the Markdown download gives. Then the notes go read-only, and a participant's page says so
// and takes no typing. At last the meeting ends, and its kept minutes appear in the Meetings
// tab, their Markdown export equal to the document.
//   node notes.test.mjs   (COHORT_BIN: the cohort binary; COHORT_ADMIN_KEY: its admin key)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, newPage, until, reporter, api, CONTRAST_FAILURES } from './lib.mjs';

const { check, finish } = reporter('notes');
const port = 18091;
const base = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), 'cohort-notes-'));
const pad = (n) => String(n).padStart(2, '0');
const utcLocal = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:00`;

async function startServer() {
  const child = spawn(process.env.COHORT_BIN, [
    '--http', `127.0.0.1:${port}`, '--udp-port', '53100', '--log-level', 'warn', '--test-hooks',
    '--db', `sqlite://${dir}/notes.db`, '--data-dir', join(dir, 'files'), '--no-demo', '--drain-seconds', '1',
    '--notes-history-seconds', '1',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  await until(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, 15000, 'the server answers');
  return child;
}

async function stopServer(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

// What a page's notes show: the textarea's text, its status line and whether it takes typing.
const view = (prefix) => `(() => {
  const t = document.querySelector('#${prefix}-text');
  const s = document.querySelector('#${prefix}-state');
  return t && { text: t.value, state: s?.dataset.state ?? '', readOnly: t.readOnly,
    readOnlyNote: !document.querySelector('#${prefix}-read-only').hidden,
    people: [...document.querySelectorAll('#${prefix}-people li')].map((li) => li.textContent) };
})()`;
const read = (p) => p.page.evaluate(view(p.prefix));
const saved = (p, what) => until(async () => (await read(p))?.state === 'saved', 10000, `${p.name}: ${what}`);
const typeAtEnd = async (p, text, delay = 0) => {
  await p.page.focus(`#${p.prefix}-text`);
  await p.page.keyboard.press('Control+End');
  await p.page.keyboard.type(text, { delay });
};

let server = await startServer();
const browser = await launchChromium();
try {
  const room = await api(base, 'POST', '/rooms', { name: 'Biology 9B', time_zone: 'UTC' });
  const start = utcLocal(new Date(Date.now() - 5 * 60_000));
  await api(base, 'PUT', `/rooms/${room.id}/schedule`, { rrule: 'FREQ=WEEKLY', start, duration_minutes: 60 });
  const link = async (name) => {
    const m = await api(base, 'POST', `/rooms/${room.id}/members`, { display_name: name });
    return (await api(base, 'POST', `/rooms/${room.id}/members/${m.id}/invites`, {})).token;
  };
  const tokens = { Ada: await link('Ada'), Bea: await link('Bea'), Cy: await link('Cy') };

  // Bea on the room's home, in the Notes tab; Ada in the call, with the Notes panel (N).
  const onHome = async (name) => {
    const p = { ...(await newPage(browser, { base, name })), prefix: 'notes' };
    await p.page.goto(`${base}/r/${room.slug}?t=${tokens[name]}`);
    await p.page.click('#tab-notes');
    return p;
  };
  const bea = await onHome('Bea');
  const ada = { ...(await newPage(browser, { base, name: 'Ada' })), prefix: 'notes' };
  await ada.page.goto(`${base}/r/${room.slug}?t=${tokens.Ada}`);
  await ada.page.click('#home-join');
  await ada.page.fill('#name', 'Ada');
  await ada.page.waitForSelector('#join:not([disabled])');
  await ada.page.click('#join');
  await ada.page.waitForSelector('#toggle-notes:not([hidden])');
  await ada.page.keyboard.press('n');
  await saved(ada, 'the notes open beside the call');
  await saved(bea, 'the notes open on the home');
  const first = await read(bea);
  check(first.text.includes('## Decisions') && first.text.includes('Action items'),
    `the minutes start from the template (${JSON.stringify(first.text.slice(0, 80))})`);
  check((await read(ada)).text === first.text, 'Ada, in the call, has the same minutes');
  await until(async () => (await read(bea)).people.length === 2, 5000, 'Bea sees Ada in the document').catch(() => {});
  check((await read(bea)).people.some((n) => n.includes('Ada')), `Bea sees who is in the document (${(await read(bea)).people})`);

  // Both type at the same moment.
  await Promise.all([typeAtEnd(ada, '\nAda: photosynthesis needs light.'), typeAtEnd(bea, '\nBea: and water.')]);
  const same = await until(async () => {
    const [x, y] = [await read(ada), await read(bea)];
    return x.text === y.text && x.text.includes('Ada: photosynthesis needs light.') && x.text.includes('Bea: and water.') && x.state === 'saved' && y.state === 'saved';
  }, 10000, 'both pages converge').then(() => true).catch(() => false);
  check(same, `typing at once, both pages end with the same text holding both edits (${JSON.stringify((await read(ada)).text.slice(-70))})`);
  const tags = await ada.page.evaluate(() => [...document.querySelectorAll('#notes-panel .nameTag')].map((n) => n.textContent));
  check(tags.includes('Bea'), `Bea's cursor, with her name, is drawn over Ada's notes (${JSON.stringify(tags)})`);
  const contrast = await bea.page.evaluate(CONTRAST_FAILURES);
  check(contrast.length === 0, `the notes pass the WCAG AA contrast checks (${JSON.stringify(contrast.slice(0, 3))})`);

  // Bea is cut off, and keeps typing; Ada types too. Both merge when she is back.
  const cut = await fetch(`${base}/test/notes-outage?ms=2500`, { method: 'POST' });
  check(cut.status === 204, `the test hook cut the notes (${cut.status})`);
  await until(async () => (await read(bea)).state === 'offline', 5000, 'Bea sees she is offline');
  check((await read(bea)).readOnly === false, 'offline, Bea can still type');
  await typeAtEnd(bea, '\nBea, offline: chlorophyll.');
  await typeAtEnd(ada, '\nAda, meanwhile: carbon dioxide.');
  const merged = await until(async () => {
    const [x, y] = [await read(ada), await read(bea)];
    return x.text === y.text && x.text.includes('Bea, offline: chlorophyll.') && x.text.includes('Ada, meanwhile: carbon dioxide.') && y.state === 'saved';
  }, 20000, 'the offline edits merge').then(() => true).catch(() => false);
  check(merged, 'the edits Bea made offline merge with Ada\u2019s when she reconnects');

  // kill -9 while Ada types: what Bea had received survives, and Ada's page sends the rest.
  const typing = typeAtEnd(ada, '\nAda keeps typing through the crash: stomata open and close.', 30);
  await until(async () => (await read(bea)).text.includes('Ada keeps typing'), 10000, 'Bea receives some of it');
  await stopServer(server, 'SIGKILL');
  const received = (await read(bea)).text;
  await typing;
  server = await startServer();
  const cy = await onHome('Cy');
  await until(async () => (await read(cy))?.state === 'saved', 10000, 'Cy loads the notes');
  const loaded = (await read(cy)).text;
  check(loaded.startsWith(received.slice(0, received.indexOf('Ada keeps typing'))) && loaded.includes(received.slice(received.indexOf('Ada keeps typing'))),
    `after kill -9 and a restart, nothing Bea had received is lost (${JSON.stringify(received.slice(-40))} in ${JSON.stringify(loaded.slice(-60))})`);
  const all = await until(async () => {
    const texts = [await read(ada), await read(bea), await read(cy)].map((v) => v.text);
    return texts.every((t) => t === texts[0] && t.includes('stomata open and close.'));
  }, 20000, 'all three converge').then(() => true).catch(() => false);
  check(all, 'Ada\u2019s page sends what the server lost, and all three pages agree');

  // A clean restart: a fourth page loads the same text, which is also the Markdown download.
  const before = (await read(ada)).text;
  await stopServer(server);
  server = await startServer();
  const again = await onHome('Cy');
  await until(async () => (await read(again))?.state === 'saved', 10000, 'the notes load after a restart');
  check((await read(again)).text === before, 'after a restart the page loads the same text');
  const doc = await bea.page.evaluate(() => document.querySelector('#notes-doc').value);
  const md = await fetch(`${base}/api/v1/rooms/${room.id}/docs/${encodeURIComponent(doc)}/markdown?t=${tokens.Bea}`);
  check(md.ok && (await md.text()) === before && /attachment/.test(md.headers.get('content-disposition') ?? ''),
    'the Markdown download is the document, as an attachment');

  // Read-only notes: a participant's page says so and takes no typing.
  await api(base, 'PATCH', `/rooms/${room.id}`, { notes_read_only: true });
  const reader = await onHome('Cy');
  await until(async () => (await read(reader))?.readOnlyNote, 10000, 'the page says the notes are read-only');
  const r = await read(reader);
  check(r.readOnlyNote && r.readOnly, 'a read-only participant\u2019s page says so, and the textarea takes no typing');
  await typeAtEnd(reader, 'graffiti');
  await new Promise((res) => setTimeout(res, 500));
  check(!(await read(reader)).text.includes('graffiti') && !(await read(bea)).text.includes('graffiti'), 'nothing the reader types reaches anyone');

  // The meeting ends (its schedule now says it lasted a minute): its notes are kept, and the
  // Meetings tab lists them, read-only, with a download that is the document.
  await api(base, 'PUT', `/rooms/${room.id}/schedule`, { rrule: 'FREQ=WEEKLY', start, duration_minutes: 1 });
  const kept = await until(async () => {
    await bea.page.click('#tab-meetings');
    return bea.page.$('#meetings-list .kept-notes');
  }, 15000, 'the kept notes appear in the Meetings tab').then(() => true).catch(() => false);
  check(kept, 'at the meeting\u2019s end its notes appear in the Meetings tab');
  if (kept) {
    await bea.page.click('#meetings-list li:has(.kept-notes) summary');
    await bea.page.click('#meetings-list [data-doc^="minutes:"] .kept-view');
    const shown = await bea.page.evaluate(() => document.querySelector('#meetings-list [data-doc^="minutes:"] .kept-text').textContent);
    check(shown.includes('photosynthesis needs light') && shown.includes('stomata'), 'the kept minutes read, rendered, as the document was');
    const kContrast = await bea.page.evaluate(CONTRAST_FAILURES);
    check(kContrast.length === 0, `the Meetings tab with kept notes passes the contrast checks (${JSON.stringify(kContrast.slice(0, 3))})`);
    const href = await bea.page.evaluate(() => document.querySelector('#meetings-list [data-doc^="minutes:"] .kept-download').href);
    const exported = await (await fetch(href)).text();
    const now = await (await fetch(`${base}/api/v1/rooms/${room.id}/docs/${encodeURIComponent(doc)}/markdown?t=${tokens.Bea}`)).text();
    check(exported === before && exported === now, 'the kept minutes\u2019 Markdown export equals the document');
  }
} catch (e) {
  check(false, `the test ran to its end: ${e.stack ?? e}`);
} finally {
  await browser.close();
  await stopServer(server);
  rmSync(dir, { recursive: true, force: true });
}
finish();
