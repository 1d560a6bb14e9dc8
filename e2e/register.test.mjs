// The register and the "now" card in real Chromium. A teacher's "Year 10 Physics" has a term
// of Tuesdays and a class of 25; the tests control time by moving the term's first meeting to
// now, for one minute. The teacher signs in by a sign-in link, copies Student 07's personal
// link from the class list, and Student 07 (speaking) and Student 08 join the call with their
// links. The teacher's now card lists them, for how long, who speaks, and gives her the host
// link, by which she joins too. After the meeting the register shows 2 present and 23 absent,
// the teacher apart as a guest; she excuses Student 12 with a note, and the CSV she downloads,
// read with Python's csv module, has it. A sign-in link opened after its minute is refused.
// Contrast passes; at 360 px every control is reachable.
//   node register.test.mjs http://127.0.0.1:18080   (COHORT_ADMIN_KEY: the server's admin key)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, launchChromium, newPage, until, pastHome, reporter, api, CONTRAST_FAILURES, UNREACHABLE, speechWav } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const { check, finish } = reporter('register');
const ROOM = 'Year 10 Physics';
const ZONE = 'Europe/Berlin';
const attempt = (fn, ms, what) => until(fn, ms, what).catch(() => null);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A moment as local time in the room's zone, the way the schedule API reads it. */
const local = (ms) => new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
  .format(new Date(ms)).replace(' ', 'T');

const dir = mkdtempSync(join(tmpdir(), 'cohort-register-'));
const wav = join(dir, 'speech.wav');
speechWav(wav);
const teacherBrowser = await launchChromium();
const speaking = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, `--use-file-for-fake-audio-capture=${wav}`] });
const quiet = await launchChromium();

async function joinCall(page, url, name) {
  await page.goto(url);
  await pastHome(page);
  await page.fill('#name', name);
  await page.waitForSelector('#join:not([disabled])');
  await page.click('#join');
  await page.waitForSelector('#toggle-mic', { timeout: 20000 });
}

try {
  // The teacher's room, term and class, made with her key as the API allows.
  const teacher = await api(base, 'POST', '/keys', { name: `Ms Okafor ${Date.now()}`, role: 'organiser' });
  const as = async (method, path, body, type = 'application/json') => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${teacher.key}`, 'content-type': type },
      body: body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : body,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const room = await as('POST', '/rooms', { name: ROOM, time_zone: ZONE, capacity: 30 });
  await as('PUT', `/rooms/${room.id}/schedule`, { rrule: 'FREQ=WEEKLY;BYDAY=TU;UNTIL=20270518T215959Z', start: '2027-03-02T18:00', duration_minutes: 60 });
  const csv = ['name,email,role'];
  for (let i = 1; i <= 25; i++) csv.push(`Student ${String(i).padStart(2, '0')},student${i}@school.example,participant`);
  const imported = await as('POST', `/rooms/${room.id}/members/import`, `${csv.join('\n')}\n`, 'text/csv');
  check(imported.added.length === 25, `a class of 25 (${imported.added.length})`);
  // The tests control time: the term's first meeting is moved to now, for one minute.
  const start = Math.floor((Date.now() - 10_000) / 1000) * 1000;
  const end = start + 60_000;
  await as('PATCH', `/rooms/${room.id}/occurrences/2027-03-02T18:00`, { start: local(start), duration_minutes: 1 });

  // Without a session, the console's data is refused.
  for (const path of [`/rooms/${room.id}/register`, `/rooms/${room.id}/live`]) {
    const r = await fetch(`${base}/api/v1${path}`);
    check(r.status === 401, `without a session ${path.split('/').pop()} gives 401 (${r.status})`);
  }

  const link = await api(base, 'POST', `/keys/${teacher.id}/sign-in-links`, {});
  // A second link, for a minute only: it is opened after the meeting, once it has expired.
  const shortLink = await api(base, 'POST', `/keys/${teacher.id}/sign-in-links`, { expires_minutes: 1 });
  const context = await teacherBrowser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[teacher] page error: ${e.message}`));
  await page.goto(link.url);
  await page.screenshot({ path: '../docs/images/organise-sign-in.png' });
  await page.getByRole('button', { name: /^Sign in as/ }).click();
  await page.waitForSelector('#console:not([hidden])');
  const card = page.locator(`.room-card[data-room="${room.id}"]`);

  // Student 07's link, copied from the class list, joins the call.
  await card.getByRole('button', { name: `Class list of ${ROOM}` }).click();
  await page.waitForSelector('#members-body tr');
  await page.getByRole('button', { name: "Copy Student 07's link" }).click();
  const studentLink = await attempt(async () => (await page.inputValue('#copied')) || null, 5000, 'the link');
  const seven = await newPage(speaking, { base, name: 'Student 07' });
  await joinCall(seven.page, studentLink, 'Student 07');
  check(await seven.page.isVisible('#toggle-mic'), "Student 07's copied link joins the call");
  const members = await as('GET', `/rooms/${room.id}/members`);
  const eight = members.find((m) => m.display_name === 'Student 08');
  const eightLink = await as('POST', `/rooms/${room.id}/members/${eight.id}/invites`, {});
  const eightPage = await newPage(quiet, { base, name: 'Student 08' });
  await joinCall(eightPage.page, eightLink.url, 'Student 08');
  await page.getByRole('button', { name: 'Back to rooms' }).nth(0).click();

  // The now card: who is in, for how long, who speaks; and the host link into the call.
  await card.getByRole('button', { name: `Now in ${ROOM}` }).click();
  check(await page.evaluate(() => document.activeElement?.id === 'now-title'), 'the now card opens with focus on its heading');
  await page.waitForSelector('#now-join:not([hidden])');
  const [hostPage] = await Promise.all([context.waitForEvent('page'), page.click('#now-join')]);
  await pastHome(hostPage);
  await hostPage.fill('#name', 'Ms Okafor');
  await hostPage.waitForSelector('#join:not([disabled])');
  await hostPage.click('#join');
  await hostPage.waitForSelector('#toggle-mic', { timeout: 20000 });
  const rows = await attempt(async () => {
    const r = await page.$$eval('#now-body tr', (trs) => trs.map((tr) => ({ name: tr.querySelector('th').textContent, cells: [...tr.querySelectorAll('td')].map((c) => c.textContent), speaking: tr.dataset.speaking })));
    return r.length === 3 && r.some((x) => x.name === 'Student 07' && x.speaking === 'true') ? r : null;
  }, 20000, 'three in the call, Student 07 speaking');
  check(Boolean(rows), `the now card lists the three in the call, Student 07 speaking (${JSON.stringify(rows)})`);
  const host = rows?.find((r) => r.name === 'Ms Okafor');
  check(host?.cells[0] === 'Host', `the teacher is in by the host link, as host (${JSON.stringify(host)})`);
  check(rows?.every((r) => /\d+ s$/.test(r.cells[1])), 'each says for how long they have been in');
  check(/^Meeting under way/.test(await page.textContent('#now-meeting')), `the meeting is shown under way ("${await page.textContent('#now-meeting')}")`);
  const nowFails = await page.evaluate(CONTRAST_FAILURES);
  check(nowFails.length === 0, `the now card passes the contrast check (${JSON.stringify(nowFails.slice(0, 3))})`);
  await page.screenshot({ path: '../docs/images/organise-now.png' });
  await page.setViewportSize({ width: 360, height: 740 });
  const narrowNow = await page.evaluate(UNREACHABLE);
  check(narrowNow.length === 0, `at 360 px every control of the now card can be reached (${JSON.stringify(narrowNow)})`);
  await page.setViewportSize({ width: 1280, height: 900 });

  // The meeting ends; everyone leaves.
  const left = end + 1500 - Date.now();
  if (left > 0) await sleep(left);
  for (const p of [seven.page, eightPage.page, hostPage]) {
    await p.click('#leave');
    await p.waitForSelector('#rejoin');
  }
  await page.getByRole('button', { name: 'Back to rooms' }).nth(0).click();

  // The register: 2 present, 23 absent; the teacher apart, as a guest.
  await card.getByRole('button', { name: `Register of ${ROOM}` }).click();
  await page.waitForSelector('#register-body tr');
  const marks = await page.$$eval('#register-body .mark-button', (bs) => bs.map((b) => b.className.match(/mark-(present|late|absent|excused)/)?.[1]));
  const count = (s) => marks.filter((m) => m === s).length;
  check(marks.length === 25 && count('present') === 2 && count('absent') === 23, `the register: ${count('present')} present, ${count('absent')} absent of ${marks.length}`);
  const present = await page.$$eval('#register-body tr', (trs) => trs.filter((tr) => tr.querySelector('.mark-present')).map((tr) => tr.querySelector('th').textContent));
  check(JSON.stringify(present) === '["Student 07","Student 08"]', `present: ${present.join(', ')}`);
  const total = await page.locator('#register-body tr', { has: page.locator('th', { hasText: 'Student 07' }) }).locator('td.total').first().textContent();
  check(total.startsWith('1 of 1'), `Student 07 attended 1 of 1 (${total})`);
  const guests = await page.$$eval('#guests-body tr th', (ths) => ths.map((t) => t.textContent));
  check(JSON.stringify(guests) === '["Ms Okafor"]', `the teacher is listed apart, as a guest (${JSON.stringify(guests)})`);

  // Student 12 is excused, with a note; focus is kept in the dialog and comes back.
  const twelve = page.getByRole('button', { name: /^Student 12, .*: Absent/ });
  await twelve.click();
  await page.waitForSelector('#mark-dialog[open]');
  check(await page.evaluate(() => document.activeElement?.id === 'mark-status'), 'the mark opens in a dialog, focus on its first field');
  await page.selectOption('#mark-status', 'excused');
  await page.fill('#mark-note', 'ill, told us in advance');
  await page.click('#mark-save');
  await page.waitForSelector('#mark-dialog:not([open])', { state: 'attached' });
  const excused = await attempt(() => page.$('#register-body button.mark-excused'), 5000, 'the excused mark');
  check(Boolean(excused) && /Student 12, .*Excused, set by hand: ill, told us in advance/.test(await excused.getAttribute('aria-label')), 'the register shows the excused mark and its note');
  check(await page.evaluate(() => document.activeElement?.classList.contains('mark-excused')), 'focus returns to the changed mark');

  // The CSV, as she downloads it, read with Python's csv module.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#register-csv')]);
  const csvPath = join(dir, 'register.csv');
  await download.saveAs(csvPath);
  const python = process.env.COHORT_PYTHON ?? 'python3';
  const parsed = JSON.parse(execFileSync(python, ['-c', `
import csv, json, sys
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    r = csv.reader(f)
    header = next(r)
    print(json.dumps({"header": header, "rows": [dict(zip(header, row)) for row in r]}))
`, csvPath]).toString());
  const meetingCol = parsed.header.find((h) => /^\d{4}-\d\d-\d\d \d\d:\d\d$/.test(h));
  const byName = Object.fromEntries(parsed.rows.map((r) => [r.name, r]));
  check(Boolean(meetingCol) && parsed.header.at(-1) === 'notes', `the CSV has a column for the meeting (${meetingCol}) and the notes`);
  check(byName['Student 12']?.[meetingCol] === 'excused' && byName['Student 12']?.notes.endsWith(': ill, told us in advance'),
    `the CSV has Student 12 excused, with the note (${JSON.stringify(byName['Student 12'])})`);
  const csvCount = (s) => parsed.rows.filter((r) => r.kind === 'member' && r[meetingCol] === s).length;
  check(csvCount('present') === 2 && csvCount('absent') === 22 && csvCount('excused') === 1, `the CSV: ${csvCount('present')} present, ${csvCount('absent')} absent, ${csvCount('excused')} excused`);
  check(byName['Ms Okafor']?.kind === 'guest' && byName['Student 07']?.attended === '1' && byName['Student 07']?.held === '1', 'the CSV has the totals, and the guest apart');
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('#register-json')]);
  const jsonPath = join(dir, 'register.json');
  await json.saveAs(jsonPath);
  const asJson = JSON.parse(readFileSync(jsonPath, 'utf8'));
  check(asJson.members.length === 25 && asJson.guests.length === 1 && asJson.meetings.length === 1, 'the JSON export has the members, the guest and the meeting');

  const regFails = await page.evaluate(CONTRAST_FAILURES);
  check(regFails.length === 0, `the register passes the contrast check (${JSON.stringify(regFails.slice(0, 3))})`);
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: '../docs/images/organise-register.png' });
  await page.setViewportSize({ width: 360, height: 740 });
  const narrow = await page.evaluate(UNREACHABLE);
  check(narrow.length === 0, `at 360 px every control of the register can be reached (${JSON.stringify(narrow.slice(0, 5))})`);
  const sideways = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(sideways <= 1, `at 360 px the register page does not scroll sideways (${sideways} px)`);
  // The minute-long link, opened too late, is refused with a clear page.
  const expiresIn = Date.parse(shortLink.expires_at) + 1000 - Date.now();
  if (expiresIn > 0) await sleep(expiresIn);
  const late = await context.newPage();
  const res = await late.goto(shortLink.url);
  check(res.status() === 410 && /has expired/.test(await late.textContent('h1')), `an expired sign-in link is refused with a clear page (${res.status()}: "${await late.textContent('h1')}")`);
  await as('DELETE', `/rooms/${room.id}`);
} catch (e) {
  check(false, `the register test ran to its end (${e.stack ?? e})`);
} finally {
  await Promise.all([teacherBrowser.close(), speaking.close(), quiet.close()]);
  rmSync(dir, { recursive: true, force: true });
}
finish();
