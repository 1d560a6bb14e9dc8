// The organiser console in real Chromium: an admin makes a sign-in link; the teacher opens it,
// presses the button, and is in /organise by a session cookie the page cannot read. She creates
// "Year 10 Physics"; a bad time zone is shown next to its field with what she typed kept; she
// edits the room. A form posted from another origin of the same site (the cookie goes with it)
// changes nothing. The used link cannot be used again. Another organiser's room is not listed.
// Signing out ends the session. Contrast passes; at 360 px every control is reachable.
//   node organise.test.mjs http://127.0.0.1:18080   (COHORT_ADMIN_KEY: the server's admin key)
import fs from 'node:fs';
import http from 'node:http';
import { launchChromium, until, CONTRAST_FAILURES, UNREACHABLE, reporter, api } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const stamp = Date.now();
const TEACHER = "Ms Rivera <b>Physics</b>";
const ROOM = "Year 10 Physics";
const browser = await launchChromium();
const { check, finish } = reporter('organise');
const attempt = (fn, ms, what) => until(fn, ms, what).catch(() => null);

// Another origin on the same site (127.0.0.1, another port): SameSite=Strict sends the cookie.
const evilPort = 18090;
const evil = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(`<!doctype html><form id="f" method="post" enctype="text/plain" action="${base}/api/v1/rooms">
    <input name='{"name":"Forged ${stamp}","time_zone":"UTC","x":"' value='"}'></form>
    <script>document.getElementById('f').submit()</script>`);
});
await new Promise((r) => evil.listen(evilPort, '127.0.0.1', r));

try {
  const teacher = await api(base, 'POST', '/keys', { name: TEACHER, role: 'organiser' });
  const other = await api(base, 'POST', '/keys', { name: `Other ${stamp}`, role: 'organiser' });
  const theirs = await fetch(`${base}/api/v1/rooms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${other.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Not hers ${stamp}`, time_zone: 'UTC' }),
  }).then((r) => r.json());
  const link = await api(base, 'POST', `/keys/${teacher.id}/sign-in-links`, {});
  check(link.url.startsWith(`${base}/organise/sign-in/`), `the sign-in link is on this server (${link.url.slice(0, base.length + 18)}…)`);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cspViolations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });

  // 1. The link's page names her (as text) and signs in only when she presses the button.
  await page.goto(link.url);
  const button = page.getByRole('button', { name: `Sign in as ${TEACHER}` });
  check(await button.isVisible(), 'the link opens a page with a "Sign in as …" button naming her, as text');
  await button.click();
  await page.waitForURL(`${base}/organise`);
  await page.waitForSelector('#console:not([hidden])', { timeout: 10000 });
  const who = await page.textContent('#who');
  check(who.includes(TEACHER), `the console says who is signed in ("${who}")`);
  check(!(await page.evaluate(() => document.cookie)).includes('cohort_session'), 'the session cookie is HttpOnly: the page cannot read it');
  check(await page.isVisible('#rooms-empty'), 'with no rooms yet, the console says how to start');
  check(!(await page.textContent('#rooms-list')).includes('Not hers'), "another organiser's room is not listed");

  // 2. A new room with a time zone that does not exist: the error is beside the field, and
  //    nothing typed is lost; corrected, the room is made.
  await page.getByRole('button', { name: 'New room' }).click();
  const dialog = page.locator('#room-dialog');
  check(await dialog.isVisible(), 'New room opens the form');
  check(await page.evaluate(() => document.activeElement?.id === 'room-name'), 'focus goes to the first field');
  const zone = await page.inputValue('#room-time-zone');
  const browserZone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  check(zone === browserZone, `the time zone defaults to the browser's (${zone}, the browser's ${browserZone})`);
  await dialog.getByLabel('Name').fill(ROOM);
  await dialog.getByLabel('Description (optional)').fill('Forces, energy & <waves>');
  await dialog.getByLabel('Time zone').fill('Mars/Olympus_Mons');
  await dialog.getByLabel('Capacity').fill('30');
  await page.getByRole('button', { name: 'Create room' }).click();
  const zoneError = await attempt(async () => {
    const t = (await page.textContent('#room-time-zone-error'))?.trim();
    return t || null;
  }, 5000, 'the time zone error');
  check(Boolean(zoneError), `the server's error shows beside the time zone ("${zoneError}")`);
  check((await page.getAttribute('#room-time-zone', 'aria-invalid')) === 'true', 'the field is marked invalid');
  check(await page.evaluate(() => document.activeElement?.id === 'room-time-zone'), 'focus goes to the field in error');
  check((await page.inputValue('#room-name')) === ROOM && (await page.inputValue('#room-capacity')) === '30', 'what was typed is kept');
  await dialog.getByLabel('Time zone').fill('Europe/Berlin');
  await page.getByRole('button', { name: 'Create room' }).click();
  const card = page.locator('.room-card', { hasText: ROOM });
  await card.waitFor({ timeout: 10000 });
  check(!(await dialog.isVisible()), 'the form closes once the room is made');
  const cardText = await card.textContent();
  check(cardText.includes('Europe/Berlin') && cardText.includes('up to 30 people') && cardText.includes('Forces, energy & <waves>'),
    `the room's card shows its zone, capacity and description as text ("${cardText.replace(/\s+/g, ' ').trim()}")`);

  // 3. Edit: the form holds the room as stored; a change is saved.
  await card.getByRole('button', { name: `Edit ${ROOM}` }).click();
  check((await page.inputValue('#room-time-zone')) === 'Europe/Berlin', 'Edit opens the form with the room as stored');
  await dialog.getByLabel('Capacity').fill('25');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await attempt(async () => (await card.textContent()).includes('up to 25 people'), 10000, 'the edit is shown');
  check((await card.textContent()).includes('up to 25 people'), 'the edit is saved and shown');
  const rooms = await api(base, 'GET', '/rooms?limit=100');
  const made = rooms.items.find((r) => r.name === ROOM);
  check(made?.owner_key_id === teacher.id && made?.capacity === 25 && made?.time_zone === 'Europe/Berlin',
    `the API has the room as she made it, owned by her key (${JSON.stringify(made && { capacity: made.capacity, zone: made.time_zone })})`);

  // 3b. The schedule as a form: Tuesdays at 18:00 for 12 weeks in Berlin, across the clock
  //     change of 28 March; the preview is the server's; she saves it and cancels the holiday.
  await card.getByRole('button', { name: `Schedule of ${ROOM}` }).click();
  await page.waitForSelector('#schedule-view:not([hidden])');
  check(await page.evaluate(() => document.activeElement?.id === 'schedule-title'), 'the schedule opens with focus on its heading');
  for (const day of ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']) {
    await page.getByLabel(day, { exact: true }).setChecked(false);
  }
  const daysError = await attempt(async () => (await page.textContent('#schedule-days-set-error')).trim() || null, 5000, 'the days error');
  check(/at least one day/.test(daysError ?? ''), `with no day ticked, the error is beside Days ("${daysError}")`);
  await page.getByLabel('Tuesday', { exact: true }).check();
  await page.getByLabel('Time', { exact: true }).fill('18:00');
  await page.getByLabel('Duration (minutes)').fill('60');
  await page.getByLabel('Repeats').selectOption('1');
  await page.getByLabel('First meeting').fill('2027-03-02');
  await page.getByLabel(/Last meeting/).fill('2027-05-18');
  const previewed = await attempt(async () => {
    const n = await page.textContent('#meetings-note');
    return /Preview, not saved yet: 12 meetings/.test(n) ? n : null;
  }, 10000, 'the preview of 12 meetings');
  check(Boolean(previewed), `the preview lists 12 meetings ("${await page.textContent('#meetings-note')}")`);
  const previewStarts = await page.$$eval('#meetings-body tr', (rows) => rows.map((r) => r.dataset.start));
  const heads = await page.$$eval('#meetings-head th', (ths) => ths.map((t) => t.textContent));
  const ownZone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  check(ownZone === 'Europe/Berlin' || heads.some((h) => h.startsWith('Your time')), `the room's zone and her own are side by side when they differ (${JSON.stringify(heads)})`);
  await page.locator('#schedule-advanced summary').click();
  const rule = await page.inputValue('#schedule-rrule');
  check(rule === 'FREQ=WEEKLY;BYDAY=TU;UNTIL=20270518T215959Z', `Advanced shows the rule the form made (${rule})`);
  await page.getByRole('button', { name: 'Save schedule' }).click();
  await attempt(async () => /^Saved: 12 meetings/.test(await page.textContent('#meetings-note')), 10000, 'saved');
  check(/^Saved: 12 meetings/.test(await page.textContent('#meetings-note')), `saved: ${await page.textContent('#meetings-note')}`);
  await page.locator('#meetings-body tr[data-start^="2027-04-06"] button', { hasText: 'Cancel' }).click();
  await attempt(async () => /11 meetings, 1 cancelled/.test(await page.textContent('#meetings-note')), 10000, 'cancelled');
  check(/11 meetings, 1 cancelled/.test(await page.textContent('#meetings-note')), `the holiday is cancelled (${await page.textContent('#meetings-note')})`);
  const occ = await api(base, 'GET', `/rooms/${made.id}/occurrences?from=2027-03-01T00:00:00Z&to=2027-06-01T00:00:00Z`);
  const held = occ.filter((o) => o.status === 'scheduled');
  check(held.length === 11 && occ.find((o) => o.start.startsWith('2027-04-06'))?.status === 'cancelled', `the API has 11 meetings and the holiday cancelled (${held.length})`);
  check(JSON.stringify(occ.map((o) => o.start)) === JSON.stringify(previewStarts), 'the API\'s meetings are the ones the preview showed');
  const offsets = occ.map((o) => o.start.slice(11));
  check(offsets.every((t) => t.startsWith('18:00:00')) && offsets[0].endsWith('+01:00') && offsets[11].endsWith('+02:00'),
    `18:00 local across the clock change (${offsets[0]} … ${offsets[11]})`);
  // Restorable: the holiday comes back, and goes again.
  await page.locator('#meetings-body tr[data-start^="2027-04-06"] button', { hasText: 'Restore' }).click();
  await attempt(async () => /^Saved: 12 meetings\.$/.test(await page.textContent('#meetings-note')), 10000, 'restored');
  check(/^Saved: 12 meetings\.$/.test(await page.textContent('#meetings-note')), 'a cancelled meeting can be restored');
  await page.locator('#meetings-body tr[data-start^="2027-04-06"] button', { hasText: 'Cancel' }).click();
  await attempt(async () => /1 cancelled/.test(await page.textContent('#meetings-note')), 10000, 'cancelled again');
  // Move one meeting a day later, then put it back.
  await page.locator('#meetings-body tr[data-start^="2027-05-04"] button', { hasText: 'Move' }).click();
  await page.getByLabel('New time').fill('2027-05-05T18:00');
  await page.getByRole('button', { name: 'Move here' }).click();
  await attempt(async () => (await page.$('#meetings-body tr[data-start^="2027-05-05"].moved')) !== null, 10000, 'moved');
  check((await page.$('#meetings-body tr[data-start^="2027-05-05"].moved')) !== null, 'a meeting can be moved, and the list says where from');
  await page.locator('#meetings-body tr[data-start^="2027-05-05"] button', { hasText: 'Restore' }).click();
  await attempt(async () => (await page.$('#meetings-body tr[data-start^="2027-05-04"].scheduled')) !== null, 10000, 'moved back');
  check((await page.$('#meetings-body tr[data-start^="2027-05-04"].scheduled')) !== null, 'and restored to its place');
  await page.screenshot({ path: '../docs/images/organise-schedule.png', fullPage: true });
  const scheduleFails = await page.evaluate(CONTRAST_FAILURES);
  check(scheduleFails.length === 0, `the schedule passes the contrast check (${JSON.stringify(scheduleFails.slice(0, 3))})`);
  await page.setViewportSize({ width: 360, height: 740 });
  const narrow = await page.evaluate(UNREACHABLE);
  check(narrow.length === 0, `at 360 px every control of the schedule is in view or can be scrolled to (${JSON.stringify(narrow)})`);
  const sideways = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(sideways <= 1, `at 360 px the schedule page itself does not scroll sideways (${sideways} px)`);
  await page.screenshot({ path: '../docs/images/organise-schedule-narrow.png', fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole('button', { name: 'Back to rooms' }).click();
  check(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')?.startsWith('Schedule of')), 'Back to rooms returns focus to the room\'s Schedule button');

  // 3c. The class list: 25 students from a CSV file with 2 bad rows, each reported before
  //     anything is kept; one added by hand; one student's personal link copied.
  await card.getByRole('button', { name: `Class list of ${ROOM}` }).click();
  await page.waitForSelector('#members-view:not([hidden])');
  const rows = ['name,email,role'];
  for (let i = 1; i <= 25; i++) rows.push(`Student ${String(i).padStart(2, '0')},student${i}@school.example,participant`);
  rows.splice(8, 0, 'Bad Email,not-an-email,participant');
  rows.splice(15, 0, 'Twice,student3@school.example,participant');
  const csvPath = `/tmp/cohort-e2e-class-${stamp}.csv`;
  fs.writeFileSync(csvPath, `${rows.join('\n')}\n`);
  await page.getByLabel('Or choose a CSV file').setInputFiles(csvPath);
  await attempt(async () => (await page.inputValue('#import-csv')).includes('Student 25'), 5000, 'the file is read');
  await page.getByRole('button', { name: 'Check the list' }).click();
  await page.waitForSelector('#import-preview:not([hidden])', { timeout: 10000 });
  const verdict = await page.textContent('#import-verdict');
  const refusedRows = await page.$$eval('#import-refused li', (li) => li.map((l) => l.textContent));
  check(/^25 would be added; 2 refused/.test(verdict), `the check says what the import will do ("${verdict}")`);
  check(refusedRows.length === 2 && /^line 9: .*email/.test(refusedRows[0]) && /^line 16: .*already on an earlier row/.test(refusedRows[1]),
    `each bad row is reported with its line and why (${JSON.stringify(refusedRows)})`);
  const before = await api(base, 'GET', `/rooms/${made.id}/members`);
  check(before.length === 0, `checking kept nothing (${before.length} members)`);
  await page.getByRole('button', { name: 'Import 25 members' }).click();
  await attempt(async () => (await page.$$('#members-body tr')).length === 25, 10000, '25 rows');
  const listed = await api(base, 'GET', `/rooms/${made.id}/members`);
  check(listed.length === 25 && (await page.$$('#members-body tr')).length === 25, `25 members imported and listed (${listed.length})`);
  await page.locator('#member-form').getByLabel('Name').fill('Late Joiner');
  await page.locator('#member-form').getByLabel('Email (optional)').fill('late@');
  await page.getByRole('button', { name: 'Add member' }).click();
  const emailError = await attempt(async () => (await page.textContent('#member-email-error')).trim() || null, 5000, 'the email error');
  check(Boolean(emailError) && (await page.inputValue('#member-name')) === 'Late Joiner', `a bad email is shown beside its field, the name kept ("${emailError}")`);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await page.getByRole('button', { name: "Copy Student 07's link" }).click();
  const studentLink = await attempt(async () => (await page.inputValue('#copied')) || null, 5000, 'the link');
  const clip = await page.evaluate(() => navigator.clipboard.readText()).catch(() => '');
  check(Boolean(studentLink) && studentLink.startsWith(`${base}/r/`) && clip === studentLink, `Student 07's personal link is copied (${(studentLink ?? '').slice(0, base.length + 12)}…)`);
  const token = new URL(studentLink).searchParams.get('t');
  const lobby = await fetch(`${base}/api/v1/lobby/${made.slug}?t=${encodeURIComponent(token)}`).then((r) => r.json());
  check(lobby.role === 'participant' && lobby.name === ROOM, `the link admits her as a participant of the room (${JSON.stringify({ role: lobby.role, name: lobby.name })})`);
  await page.getByRole('button', { name: 'Copy the calendar link' }).click();
  await attempt(async () => (await page.inputValue('#copied')).includes('calendar.ics'), 5000, 'calendar link');
  const ics = await fetch(await page.inputValue('#copied'));
  check(ics.status === 200 && /BEGIN:VCALENDAR/.test(await ics.text()), `the calendar link serves the term's calendar (${ics.status})`);
  const membersFails = await page.evaluate(CONTRAST_FAILURES);
  check(membersFails.length === 0, `the class list passes the contrast check (${JSON.stringify(membersFails.slice(0, 3))})`);
  await page.setViewportSize({ width: 360, height: 740 });
  const narrowMembers = await page.evaluate(UNREACHABLE);
  check(narrowMembers.length === 0, `at 360 px every control of the class list is in view or can be scrolled to (${JSON.stringify(narrowMembers.slice(0, 5))})`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.evaluate(() => { scrollTo(0, 0); document.querySelector('#copied').value = ''; });
  await page.screenshot({ path: '../docs/images/organise-class-list.png' });
  fs.unlinkSync(csvPath);
  await page.getByRole('button', { name: 'Back to rooms' }).nth(0).click();

  // 4. A form posted from another origin of the same site carries her cookie, and is refused.
  const forged = await context.newPage();
  const answer = forged.waitForResponse((r) => r.url() === `${base}/api/v1/rooms` && r.request().method() === 'POST', { timeout: 10000 });
  await forged.goto(`http://127.0.0.1:${evilPort}/`);
  const status = (await answer).status();
  check(status === 403, `the cross-origin form post is refused (${status})`);
  const after = await api(base, 'GET', '/rooms?limit=100');
  check(!after.items.some((r) => r.name.startsWith('Forged')), 'and no room was made by it');
  await forged.close();

  // 5. Contrast, and the narrow layout: every control is in view or can be scrolled to.
  const fails = await page.evaluate(CONTRAST_FAILURES);
  check(fails.length === 0, `the console passes the contrast check (${JSON.stringify(fails.slice(0, 3))})`);
  await page.setViewportSize({ width: 360, height: 740 });
  const unreachable = await page.evaluate(UNREACHABLE);
  check(unreachable.length === 0, `at 360 px every control of the rooms is in view or can be scrolled to (${JSON.stringify(unreachable)})`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 1, `at 360 px the page does not scroll sideways (${overflow} px)`);
  await page.screenshot({ path: '../docs/images/organise-rooms-narrow.png', fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: '../docs/images/organise-rooms.png' });

  // 6. Deleting asks first and names what goes; Cancel keeps the room.
  await card.getByRole('button', { name: `Delete ${ROOM}` }).click();
  // The dialog opens once the room's member count is in (it names them).
  await page.waitForSelector('#confirm[open]', { timeout: 10000 });
  check(await page.evaluate(() => document.activeElement?.id === 'confirm-no'), 'focus starts on Cancel, the safe answer');
  const confirmText = await page.textContent('#confirm-text');
  check(/schedule/.test(confirmText) && /its 25 members/.test(confirmText) && /chat/.test(confirmText) && /notes/.test(confirmText) && /attendance/.test(confirmText),
    `the confirmation names what will be lost ("${confirmText.slice(0, 90)}…")`);
  await page.keyboard.press('Escape');
  check(await card.isVisible(), 'Escape cancels, and the room stays');

  // 7. The used link cannot be used again; signing out ends the session on the server.
  const again = await context.newPage();
  const res = await again.goto(link.url);
  check(res.status() === 410 && /has been used/.test(await again.textContent('h1')), `the used link is refused with a clear page (${res.status()})`);
  await again.close();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForSelector('#signin:not([hidden])', { timeout: 10000 });
  const cookies = await context.cookies(base);
  const stale = await fetch(`${base}/api/v1/rooms`, { headers: { cookie: `cohort_session=${cookies.find((c) => c.name === 'cohort_session')?.value ?? 'gone'}` } });
  check(stale.status === 401, `after signing out the session no longer works (${stale.status})`);
  await page.reload();
  check(await page.isVisible('#signin'), 'a reload after signing out shows the sign-in form');
  check(cspViolations.length === 0, `no CSP violations (${cspViolations.length})`);
  await fetch(`${base}/api/v1/rooms/${theirs.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${other.key}` } });
} catch (e) {
  check(false, `the console test ran to its end (${e.stack ?? e})`);
} finally {
  evil.close();
  await browser.close();
}
finish();
