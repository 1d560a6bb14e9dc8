// A scheduled room with invites, in real Chromium: the pre-join screen shows the next meeting in
// the viewer's own time zone; a participant who comes early waits in the lobby and is let in by
// itself when the room opens; a host gets in at once; links without a valid invite are refused
// with a message that says what to do.
//   node lobby.test.mjs http://127.0.0.1:18080   (COHORT_ADMIN_KEY: the server's admin key)
import { launchChromium, newPage, until, joinRoom, pastHome, reporter, api } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const browser = await launchChromium();
const { check, finish } = reporter('lobby');
const pad = (n) => String(n).padStart(2, '0');
const utcLocal = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
const text = (page, sel) => page.evaluate((s) => document.querySelector(s)?.textContent ?? '', sel);
const names = (page) => page.evaluate(() => [...document.querySelectorAll('.tile .name')].map((n) => n.textContent));

try {
  // A room that meets daily, the first meeting 20 seconds from now, no early entry.
  const room = await api(base, 'POST', '/rooms', { name: `Evening Study ${Date.now()}`, time_zone: 'UTC', early_join_minutes: 0 });
  const start = new Date(Date.now() + 20000);
  await api(base, 'PUT', `/rooms/${room.id}/schedule`, { rrule: 'FREQ=DAILY', start: utcLocal(start), duration_minutes: 30 });
  const participant = await api(base, 'POST', `/rooms/${room.id}/invites`, { role: 'participant' });
  const host = await api(base, 'POST', `/rooms/${room.id}/invites`, { role: 'host' });
  const path = (inv) => `${room.slug}?t=${inv.token}`;

  // In New York, the pre-join screen names the meeting in New York time.
  const zone = { timezoneId: 'America/New_York', locale: 'en-US' };
  const early = await newPage(browser, { base, name: 'Early', options: zone });
  await early.page.goto(`${base}/r/${path(participant)}`);
  await early.page.waitForSelector('#meeting-info:not([hidden])');
  const info = await text(early.page, '#meeting-info');
  const expected = new Date(start).toLocaleString('en-US', { timeZone: 'America/New_York', weekday: 'short', hour: '2-digit', minute: '2-digit' });
  check(info.startsWith(`Next meeting ${expected} (in `), `the next meeting in the viewer's time: "${info}" (expected ${expected})`);
  check((await text(early.page, 'h1')).includes(room.name), 'the page shows the room by its name');

  // Joining early: the home offers to wait, and the lobby says when the room opens.
  const offer = await text(early.page, '#home-join');
  check(offer === 'Wait for the meeting', `before the meeting the home offers "${offer}"`);
  await pastHome(early.page);
  const prejoinNote = await text(early.page, '#recording-note');
  check(prejoinNote.startsWith('This room keeps a record of who comes'), `the pre-join screen says what is recorded: "${prejoinNote}"`);
  await early.page.fill('#name', 'Early Bird');
  await early.page.waitForSelector('#join:not([disabled])');
  await early.page.click('#join');
  await early.page.waitForSelector('#lobby-status');
  const waiting = await text(early.page, '#lobby-status');
  const said = await text(early.page, '#recording-note');
  check(said.startsWith('This room keeps a record of who comes'), `the lobby says what is recorded: "${said}"`);
  check(/^The room opens at .+ \(in \d+ seconds?\)\.$/.test(waiting), `an early participant waits: "${waiting}"`);

  // The host gets in at once.
  const h = await joinRoom(browser, base, path(host), 'Host', zone);
  const hostIn = await until(() => h.page.evaluate(() => Boolean(document.querySelector('.tile'))), 10000, 'host in').catch(() => false);
  check(hostIn, 'the host joins before the room opens');

  // When the room opens, the participant is let in without touching anything.
  const letIn = await until(async () => (await names(h.page)).includes('Early Bird'), 40000, 'participant let in').catch(() => false);
  const at = Date.now();
  check(letIn, `the waiting participant is let in by itself (${Math.round((at - start.getTime()) / 1000)} s after the opening)`);
  check((await names(early.page)).includes('Host'), 'and sees the host');

  // Links without a valid invite say what to do.
  const refused = [
    [`${room.slug}`, /needs an invite link/],
    [`${room.slug}?t=not-a-token`, /not valid/],
  ];
  for (const [target, want] of refused) {
    const p = await newPage(browser, { base, name: 'Stranger' });
    await p.page.goto(`${base}/r/${target}`);
    await p.page.waitForSelector('#join:not([disabled])');
    const said = await text(p.page, '#prejoin-status');
    check(want.test(said), `/r/${target.split('=')[0]}…: "${said}"`);
    await p.context.close();
  }
} catch (e) {
  check(false, `lobby flow: ${e.message}`);
}
await browser.close();
finish();
