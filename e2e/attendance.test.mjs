// Attendance with talk time, in three Chromiums: Hana (a host) speaks, leaves and comes back;
// Mia keeps her microphone off; Leo comes late; Abe, on the roster, never comes. The server's
// speaker detection lights Hana's tile for the others; Hana's Meetings tab and the register's
// CSV, read with Python's csv module, show the right intervals, statuses and talk time.
// The tests control time the way the lobby test does: the meeting started 150 s ago, and
// arriving more than 2 minutes after the start is late, so whoever comes in the first 30 s is
// on time and whoever comes after 35 s is late.
//   node attendance.test.mjs http://127.0.0.1:18080   (COHORT_ADMIN_KEY: the server's admin key)
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, launchChromium, newPage, until, pastHome, reporter, api, CONTRAST_FAILURES, speechWav } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const { check, finish } = reporter('attendance');
const pad = (n) => String(n).padStart(2, '0');
const utcLocal = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'cohort-attendance-'));
const wav = join(dir, 'speech.wav');
speechWav(wav);
const speaking = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, `--use-file-for-fake-audio-capture=${wav}`] });
const quiet = await launchChromium();
const late = await launchChromium();

async function enter(browser, link, name, { mic = true } = {}) {
  const p = await newPage(browser, { base, name });
  await p.page.goto(`${base}/r/${link}`);
  await pastHome(p.page);
  await p.page.fill('#name', name);
  if (!mic) await p.page.uncheck('#mic-on');
  await p.page.waitForSelector('#join:not([disabled])');
  await p.page.click('#join');
  await p.page.waitForSelector('#toggle-mic');
  return p;
}

try {
  const started = Date.now() - 150_000;
  const room = await api(base, 'POST', '/rooms', {
    name: `Seminar ${Date.now()}`, time_zone: 'UTC', attendance_mode: 'talk_time', late_after_minutes: 2, min_present_percent: 0,
  });
  await api(base, 'PUT', `/rooms/${room.id}/schedule`, { rrule: 'FREQ=DAILY', start: utcLocal(new Date(started)), duration_minutes: 60 });
  const member = async (display_name, role) => {
    const m = await api(base, 'POST', `/rooms/${room.id}/members`, { display_name, role });
    const link = await api(base, 'POST', `/rooms/${room.id}/members/${m.id}/invites`, {});
    return { id: `member:${m.id}`, link: `${room.slug}?t=${link.token}`, token: link.token };
  };
  const hana = await member('Hana Host', 'host');
  const mia = await member('Mia Muted', 'participant');
  const leo = await member('Leo Late', 'participant');
  const abe = await member('Abe Absent', 'participant');

  // Hana and Mia come on time; the pre-join screen said talk time is kept.
  const h = await enter(speaking, hana.link, 'Hana Host');
  const m = await enter(quiet, mia.link, 'Mia Muted', { mic: false });
  const onTime = Date.now() - started;
  check(onTime < 178_000, `Hana and Mia are in ${Math.round(onTime / 1000)} s after the start (on time under 180 s)`);

  // The server hears Hana: Mia's page lights Hana's tile and says so; nobody lights Mia's.
  const lit = await until(() => m.page.evaluate(() => {
    const tile = [...document.querySelectorAll('.tile.speaking')].find((t) => t.querySelector('.name')?.textContent === 'Hana Host');
    return tile && !tile.querySelector('.speaking-label').hidden;
  }), 10000, 'Hana lit').catch(() => false);
  const tiles = await m.page.evaluate(() => [...document.querySelectorAll('.tile')].map((t) => `${t.querySelector('.name')?.textContent}:${t.className}`));
  check(lit, `Mia sees Hana speaking, from the server's active_speakers (${JSON.stringify(tiles)})`);
  const miaLit = await h.page.evaluate(() => [...document.querySelectorAll('.tile.speaking .name')].map((n) => n.textContent));
  check(!miaLit.includes('Mia Muted (you)') && !miaLit.includes('Mia Muted'), `a muted microphone is never a speaker (${JSON.stringify(miaLit)})`);
  await sleep(4000);

  // Hana leaves and comes back.
  await h.page.click('#leave');
  await h.page.waitForSelector('#rejoin');
  await sleep(1500);
  await h.page.goto(`${base}/r/${hana.link}`);
  await pastHome(h.page);
  await h.page.waitForSelector('#join:not([disabled])');
  await h.page.click('#join');
  await h.page.waitForSelector('#toggle-mic');

  // Leo comes late: after 35 s of the 2-minute allowance's last half-minute.
  const wait = started + 186_000 - Date.now();
  if (wait > 0) await sleep(wait);
  const l = await enter(late, leo.link, 'Leo Late');
  await sleep(3000);
  for (const p of [l, m, h]) {
    await p.page.click('#leave');
    await p.page.waitForSelector('#rejoin');
  }

  // Hana's Meetings tab: everyone on the roster, with intervals, statuses and talk time.
  await h.page.goto(`${base}/r/${hana.link}`);
  await h.page.click('#tab-meetings');
  await h.page.waitForSelector('#meetings-list details');
  await h.page.click('#meetings-list details summary');
  await h.page.waitForSelector('.register-table tbody tr');
  const table = await h.page.evaluate(() => Object.fromEntries([...document.querySelectorAll('.register-table tbody tr')]
    .map((tr) => [tr.dataset.identity, [...tr.children].map((c) => c.firstChild?.textContent ?? c.textContent)])));
  const status = (who) => table[who.id]?.[1];
  check(status(hana) === 'Present' && status(mia) === 'Present' && status(leo) === 'Late' && status(abe) === 'Absent',
    `the host's view: Hana ${status(hana)}, Mia ${status(mia)}, Leo ${status(leo)}, Abe ${status(abe)}`);
  const talkCell = (who) => table[who.id]?.[6];
  check(/^0 min [1-9]\d* s$|^[1-9]\d* min \d+ s$/.test(talkCell(hana) ?? ''), `Hana has talk time (${talkCell(hana)})`);
  check(talkCell(mia) === '0 min 0 s', `Mia has none (${talkCell(mia)})`);
  const low = await h.page.evaluate(CONTRAST_FAILURES);
  check(low.length === 0, `the Meetings tab passes the contrast check${low.length ? ': ' + JSON.stringify(low) : ''}`);

  // The register as JSON: Hana's two stretches.
  const meetings = await api(base, 'GET', `/rooms/${room.id}/attendance`);
  const meeting = meetings.meetings[0];
  const reg = await api(base, 'GET', `/rooms/${room.id}/attendance?meeting=${encodeURIComponent(meeting)}`);
  const row = (who) => reg.people.find((p) => p.identity === who.id);
  check(row(hana).intervals.length === 2 && row(mia).intervals.length === 1 && row(leo).intervals.length === 1 && row(abe).intervals.length === 0,
    `intervals: Hana ${row(hana).intervals.length}, Mia ${row(mia).intervals.length}, Leo ${row(leo).intervals.length}, Abe ${row(abe).intervals.length}`);
  check(row(leo).minutes_late >= 3 && row(hana).minutes_late === 2, `minutes late: Leo ${row(leo).minutes_late}, Hana ${row(hana).minutes_late}`);

  // The CSV behind the host's download link, read with Python's csv module.
  const href = await h.page.evaluate(() => document.querySelector('.register a[download]')?.getAttribute('href'));
  const res = await fetch(`${base}${href}`);
  const csvPath = join(dir, 'register.csv');
  writeFileSync(csvPath, Buffer.from(await res.arrayBuffer()));
  const python = process.env.COHORT_PYTHON ?? 'python3';
  const parsed = JSON.parse(execFileSync(python, ['-c', `
import csv, json, sys
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    print(json.dumps({r['identity']: r for r in csv.DictReader(f)}))
`, csvPath]).toString());
  const cell = (who, col) => parsed[who.id]?.[col];
  check(cell(hana, 'status') === 'present' && cell(mia, 'status') === 'present' && cell(leo, 'status') === 'late' && cell(abe, 'status') === 'absent',
    `the CSV's statuses: ${[hana, mia, leo, abe].map((w) => cell(w, 'status')).join(', ')}`);
  check(Number(cell(hana, 'seconds_talking')) >= 2 && cell(mia, 'seconds_talking') === '0' && cell(abe, 'seconds_talking') === '0',
    `the CSV's talk time: Hana ${cell(hana, 'seconds_talking')} s, Mia ${cell(mia, 'seconds_talking')} s, Abe ${cell(abe, 'seconds_talking')} s`);
  check(cell(leo, 'minutes_late') === String(row(leo).minutes_late), 'the CSV and the register agree');

  // Hana excuses Abe, with a note, from her Meetings tab.
  const abeRow = `.register-table tr[data-identity="${abe.id}"]`;
  await h.page.click(`${abeRow} .change-status`);
  await h.page.selectOption(`${abeRow} select`, 'excused');
  await h.page.fill(`${abeRow} input[type=text]`, 'Away on a field trip');
  await h.page.press(`${abeRow} input[type=text]`, 'Enter');
  const shown = () => h.page.evaluate((sel) => document.querySelector(`${sel} td`)?.textContent, abeRow);
  const excused = await until(async () => (await shown()) === 'Excused (by a host: Away on a field trip)', 5000, 'excused')
    .then(shown).catch(shown);
  check(excused === 'Excused (by a host: Away on a field trip)', `a host's override shows with its note (${excused})`);
  const after = await api(base, 'GET', `/rooms/${room.id}/attendance?meeting=${encodeURIComponent(meeting)}`);
  const abeAfter = after.people.find((p) => p.identity === abe.id);
  check(abeAfter.status === 'excused' && abeAfter.suggested === 'absent' && abeAfter.host_override.set_by === hana.id,
    `the register keeps both and who set it (${abeAfter.status}, ${abeAfter.suggested}, ${abeAfter.host_override?.set_by})`);
} catch (e) {
  check(false, e.message);
} finally {
  await Promise.all([speaking.close(), quiet.close(), late.close()]);
  rmSync(dir, { recursive: true, force: true });
}
finish();
