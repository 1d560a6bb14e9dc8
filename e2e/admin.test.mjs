// The admin page in real Chromium: a wrong key is refused and stays signed out; with the admin
// key the page shows the node and a live room with two people, its bitrate, and in the
// drill-down each person's connections with RTT; muting a participant's microphone, removing a
// participant and closing the room reach their pages; names show as text; no inline script.
//   node admin.test.mjs http://127.0.0.1:18080   (COHORT_ADMIN_KEY: the server's admin key)
import { launchChromium, newPage, until, joinRoom, remoteVideos, CONTRAST_FAILURES, reporter } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const room = `admin-e2e-${Date.now()}`;
const XSS = '<img src=x onerror=alert(1)>';
const ALICE = 'Alice Admin-Test';
const BOB = `Bob Admin-Test ${XSS}`; // Bob's name doubles as the escaping check
const browser = await launchChromium();
const { check, finish } = reporter('admin');

const text = (page, sel) => page.evaluate((s) => document.querySelector(s)?.textContent ?? '', sel);
const attempt = (fn, ms, what) => until(fn, ms, what).catch(() => null);
const playing = async (page) => (await remoteVideos(page)).filter((v) => v.kind === 'camera' && v.width > 0 && !v.noVideo);
const ROW = `tr[data-room="${room}"]`;
const DETAILS = `tr[data-details-for="${room}"]`;

try {
  // 1. Two people in an ad hoc room, each seeing the other.
  const alice = await joinRoom(browser, base, room, ALICE);
  const bob = await joinRoom(browser, base, room, BOB);
  for (const p of [alice, bob]) {
    const ok = await attempt(async () => (await playing(p.page)).length >= 1, 20000, `${p.name} sees the other`);
    check(Boolean(ok), `${p.name === ALICE ? 'Alice' : 'Bob'} sees the other's video`);
  }

  // 2. The admin page: no inline script; a wrong key is refused; the admin key signs in.
  const admin = await newPage(browser, { base, name: 'Admin' });
  const page = admin.page;
  const cspViolations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  page.on('dialog', async (d) => {
    check(false, `no browser dialog may open on the admin page (saw "${d.message()}")`);
    await d.dismiss();
  });
  const res = await page.goto(`${base}/admin`);
  check(res.status() === 200, `GET /admin answers ${res.status()}`);
  const html = await res.text();
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  const inline = scripts.filter((m) => !/\bsrc\s*=/i.test(m[1]) || m[2].trim() !== '');
  check(scripts.length > 0 && inline.length === 0, `the admin page has no inline script (${scripts.length} script tags, all with src)`);
  check(!/<[^>]*\son[a-z]+\s*=/i.test(html) && !/<[^>]*\sstyle\s*=/i.test(html) && !/<style\b/i.test(html),
    'the admin page has no inline event handlers or styles');
  check(/script-src 'self'/.test(res.headers()['content-security-policy'] ?? ''), 'the admin page is served with a CSP that forbids inline script');

  const keyInput = page.getByLabel('Admin key');
  check((await keyInput.getAttribute('type')) === 'password', 'the "Admin key" field is a labelled password input');
  await keyInput.fill('ck_wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const refused = await attempt(async () => {
    const s = await text(page, '#admin-status');
    return /failed/i.test(s) ? s : null;
  }, 10000, 'the wrong key is refused');
  const signedOut = await page.evaluate(() => ({
    form: !document.querySelector('#signin').hidden,
    dashboard: !document.querySelector('#dashboard').hidden,
    stored: sessionStorage.getItem('cohort-admin-key'),
  }));
  check(Boolean(refused) && /not valid/i.test(refused), `a wrong key shows the server's reason: "${refused ?? await text(page, '#admin-status')}"`);
  check(signedOut.form && !signedOut.dashboard && signedOut.stored === null, `and stays signed out (${JSON.stringify(signedOut)})`);

  await keyInput.fill(process.env.COHORT_ADMIN_KEY ?? '');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#dashboard:not([hidden])', { timeout: 10000 });
  check((await page.evaluate(() => sessionStorage.getItem('cohort-admin-key'))) === process.env.COHORT_ADMIN_KEY,
    'the key is kept in sessionStorage');
  await page.reload();
  const still = await attempt(() => page.evaluate(() => !document.querySelector('#dashboard').hidden), 5000, 'signed in after reload');
  check(Boolean(still), 'a reload keeps the admin signed in');

  // 3. The room's row: two people, then inbound bitrate; the node summary and its CPU share.
  const row = () => page.evaluate((sel) => {
    const r = document.querySelector(sel);
    if (!r) return null;
    return {
      count: Number(r.querySelector('[data-count]')?.dataset.count),
      inbound: Number(r.querySelector('[data-inbound-bps]')?.dataset.inboundBps ?? 0),
      cells: [...r.children].map((c) => c.textContent),
    };
  }, ROW);
  const two = await attempt(async () => (await row())?.count === 2, 15000, 'the room shows two people');
  check(Boolean(two), `the room's row lists 2 participants (${JSON.stringify(await row())})`);
  const flowing = await attempt(async () => (await row())?.inbound > 0, 20000, 'inbound bitrate');
  const r0 = await row();
  check(Boolean(flowing), `the room's inbound bitrate is above 0 (${r0?.inbound} bit/s, shown as "${r0?.cells[2]}")`);
  const cpu = await attempt(async () => {
    const t = await text(page, '[data-stat="cpu"] dd');
    return /%/.test(t) ? t : null;
  }, 10000, 'CPU share');
  check(Boolean(cpu), `the node summary shows a CPU share after two samples (${cpu ?? await text(page, '#node-summary')})`);
  const updated = await text(page, '#updated');
  check(/^Updated \d{1,2}:\d{2}:\d{2}/.test(updated), `the page says when it was updated ("${updated}")`);

  // The drill-down: both people, connected both ways, and an RTT.
  const details = page.locator(`${ROW} button[data-action="details"]`);
  await details.click();
  check((await details.getAttribute('aria-expanded')) === 'true', 'Details opens the drill-down (aria-expanded="true")');
  const people = () => page.evaluate((sel) => [...document.querySelectorAll(`${sel} tr[data-participant]`)].map((tr) => ({
    id: tr.dataset.participant,
    name: tr.querySelector('th').textContent,
    publish: tr.querySelector('td[data-link="publish"]')?.dataset.state,
    subscribe: tr.querySelector('td[data-link="subscribe"]')?.dataset.state,
    rtt: tr.querySelector('td[data-link="subscribe"]')?.dataset.rttMs,
    estimate: tr.querySelector('td[data-link="subscribe"]')?.dataset.estimateBps,
    down: tr.querySelector('td[data-link="subscribe"]')?.textContent,
    tracks: [...tr.querySelectorAll('li.track')].map((li) => ({
      id: li.dataset.track, kind: li.dataset.kind, muted: li.dataset.muted === 'true',
      mute: li.querySelector('button[data-action="mute"]')?.getAttribute('aria-label') ?? null,
    })),
    remove: tr.querySelector('button[data-action="remove"]')?.getAttribute('aria-label'),
    imgs: tr.querySelectorAll('img').length,
  })), DETAILS);
  const connected = await attempt(async () => {
    const ps = await people();
    return ps.length === 2 && ps.every((p) => p.publish === 'connected' && p.subscribe === 'connected');
  }, 15000, 'both connected');
  let ps = await people();
  check(ps.length === 2 && [ALICE, BOB].every((n) => ps.some((p) => p.name === n)), `the drill-down lists both people (${JSON.stringify(ps.map((p) => p.name))})`);
  check(Boolean(connected), `upstream and downstream read "connected" for both (${JSON.stringify(ps.map((p) => [p.publish, p.subscribe]))})`);
  const rtt = await attempt(async () => (await people()).some((p) => p.rtt !== undefined && Number.isFinite(Number(p.rtt))), 15000, 'an RTT');
  ps = await people();
  check(Boolean(rtt), `at least one participant shows a numeric RTT (${JSON.stringify(ps.map((p) => p.rtt ?? null))} ms)`);
  // Chromium's TWCC feedback reaches the server's congestion controller on each subscribe
  // connection, and each is sent the other's one camera at its one layer.
  const estimated = await attempt(async () => (await people()).every((p) => Number(p.estimate) > 0), 15000, 'estimates');
  ps = await people();
  check(Boolean(estimated), `both show a downlink estimate (${JSON.stringify(ps.map((p) => p.estimate ?? null))} bit/s)`);
  check(ps.every((p) => /layer 1\/1 ×1/.test(p.down ?? '')), `both show what they receive (${JSON.stringify(ps.map((p) => p.down))})`);

  // Escaping: Bob's name is text, everywhere.
  const bobRow = ps.find((p) => p.name === BOB);
  const aliceRow = ps.find((p) => p.name === ALICE);
  const imgs = await page.evaluate(() => document.querySelectorAll('#rooms-body img, #node-summary img').length);
  check(Boolean(bobRow) && imgs === 0, `a name with ${XSS} shows as literal text, no <img> in the tables`);
  check(bobRow?.remove === `Remove ${BOB}`, `Bob's Remove button names him (${JSON.stringify(bobRow?.remove)})`);
  check((await page.evaluate(() => document.querySelectorAll('script:not([src]), [style]').length)) === 0,
    'no inline script or style attribute after rendering');

  // The drill-down stays open, and focus stays put, across refreshes.
  await details.focus();
  const before = await text(page, '#updated');
  await attempt(async () => (await text(page, '#updated')) !== before, 6000, 'a refresh');
  const kept = await page.evaluate((sel) => ({
    expanded: document.querySelector(`${sel} button[data-action="details"]`)?.getAttribute('aria-expanded'),
    focus: document.activeElement?.dataset.action,
    room: document.activeElement?.closest('tr')?.dataset.room,
  }), ROW);
  check(kept.expanded === 'true' && kept.focus === 'details' && kept.room === room,
    `after a refresh the drill-down is still open and focus still on Details (${JSON.stringify(kept)})`);

  // Every control is named; text contrast meets WCAG AA.
  const unlabeled = await page.evaluate(() => {
    const named = (e) => (e.getAttribute('aria-label') || e.textContent || '').trim()
      || (e.id && document.querySelector(`label[for="${e.id}"]`)?.textContent.trim());
    return [...document.querySelectorAll('button, input, select, textarea')]
      .filter((e) => !e.closest('[hidden]') && !e.closest('dialog:not([open])') && !named(e)).map((e) => e.outerHTML.slice(0, 60));
  });
  check(unlabeled.length === 0, `every control has a label (${JSON.stringify(unlabeled)})`);
  const lowContrast = await page.evaluate(CONTRAST_FAILURES);
  check(lowContrast.length === 0, `text contrast meets WCAG AA on the admin page (${JSON.stringify(lowContrast)})`);

  /** Clicks a destructive button, checks the in-page dialog, and answers it. */
  async function confirmWith(selector, answer, what) {
    await page.click(selector);
    await page.waitForSelector('dialog#confirm[open]', { timeout: 5000 });
    const seen = await page.evaluate(() => ({
      title: document.querySelector('#confirm-title').textContent,
      focus: document.activeElement?.id,
      modal: document.querySelector('dialog#confirm').matches(':modal'),
    }));
    check(seen.modal && seen.focus === 'confirm-no' && seen.title.includes(what),
      `a modal dialog asks first, focus on Cancel ("${seen.title}")`);
    await page.click(answer);
    await page.waitForSelector('dialog#confirm:not([open])', { state: 'hidden', timeout: 5000 });
  }

  // 4. Mute Alice's microphone: her page says an admin did it; the admin sees it muted.
  await alice.page.evaluate(() => {
    window.__live = [];
    const live = document.querySelector('#live');
    new MutationObserver(() => window.__live.push(live.textContent)).observe(live, { childList: true, characterData: true, subtree: true });
  });
  const audio = aliceRow?.tracks.find((t) => t.kind === 'audio');
  check(audio?.mute === `Mute ${ALICE}'s audio`, `Alice's audio has a Mute button named for her (${JSON.stringify(aliceRow?.tracks)})`);
  if (!audio) throw new Error('Alice has no audio track in the drill-down');
  const aliceSel = `${DETAILS} tr[data-participant="${aliceRow.id}"]`;
  await confirmWith(`${aliceSel} button[data-action="mute"][data-track="${audio.id}"]`, '#confirm-yes', `Mute ${ALICE}'s audio`);
  const micOff = await attempt(() => alice.page.evaluate(() => document.querySelector('#toggle-mic')?.getAttribute('aria-pressed') === 'false'), 10000, 'Alice muted');
  check(Boolean(micOff), 'on Alice\'s page the microphone button shows off (aria-pressed="false")');
  const told = await attempt(() => alice.page.evaluate(() => window.__live.concat(document.querySelector('#live').textContent).find((t) => /admin/i.test(t))), 10000, 'Alice told');
  check(Boolean(told), `Alice's page announces it ("${told ?? await text(alice.page, '#live')}")`);
  const shownMuted = await attempt(async () => {
    const a = (await people()).find((p) => p.id === aliceRow.id);
    const t = a?.tracks.find((x) => x.id === audio.id);
    return t?.muted && t.mute === null;
  }, 10000, 'the admin sees Alice muted');
  check(Boolean(shownMuted), `the drill-down shows Alice's audio muted (${JSON.stringify((await people()).find((p) => p.id === aliceRow.id)?.tracks)})`);
  check(/Muted/.test(await text(page, '#admin-status')), `the status says so ("${await text(page, '#admin-status')}")`);

  // 5. Remove Bob: Cancel changes nothing; confirming removes him.
  const bobSel = `${DETAILS} tr[data-participant="${bobRow.id}"] button[data-action="remove"]`;
  await confirmWith(bobSel, '#confirm-no', 'Remove');
  await new Promise((r) => setTimeout(r, 300));
  check((await row())?.count === 2 && (await people()).some((p) => p.id === bobRow.id), 'Cancel leaves Bob in the room');
  await confirmWith(bobSel, '#confirm-yes', `Remove ${BOB}`);
  const removed = await attempt(() => bob.page.evaluate(() => document.body.innerText.includes('You were removed from the call.')), 10000, 'Bob removed');
  check(Boolean(removed), 'Bob\'s page says "You were removed from the call."');
  const one = await attempt(async () => (await row())?.count === 1 && (await people()).length === 1, 10000, 'one left');
  check(Boolean(one), `the admin table shows 1 participant (${JSON.stringify(await row())})`);
  check((await text(page, '#admin-status')).startsWith('Removed'), `the status says "${await text(page, '#admin-status')}"`);
  const focusAfter = await page.evaluate(() => document.activeElement?.tagName ?? null);
  check(focusAfter !== null && focusAfter !== 'BODY', `focus is not lost after Bob's row goes (${focusAfter})`);

  // 6. Close the room: Alice is told; the row goes, leaving the empty state.
  await confirmWith(`${ROW} button[data-action="close"]`, '#confirm-yes', `Close room ${room}`);
  const closed = await attempt(() => alice.page.evaluate(() => document.body.innerText.includes('The room was closed.')), 10000, 'Alice told of the close');
  check(Boolean(closed), 'Alice\'s page says "The room was closed."');
  const gone = await attempt(async () => (await row()) === null, 10000, 'row gone');
  check(Boolean(gone), 'the room disappears from the admin table');
  const empty = await attempt(() => page.evaluate(() => {
    const e = document.querySelector('#rooms-empty');
    return !e.hidden && document.querySelector('#rooms-table').hidden ? e.textContent : null;
  }), 10000, 'empty state');
  check(empty === 'No live rooms right now.', `the empty state shows ("${empty}")`);
  check(/^Closed room/.test(await text(page, '#admin-status')), `the status says "${await text(page, '#admin-status')}"`);

  // Signing out forgets the key.
  await page.getByRole('button', { name: 'Sign out' }).click();
  const out = await page.evaluate(() => ({
    form: !document.querySelector('#signin').hidden,
    stored: sessionStorage.getItem('cohort-admin-key'),
    focus: document.activeElement?.id,
  }));
  check(out.form && out.stored === null && out.focus === 'admin-key', `Sign out forgets the key and returns to the form (${JSON.stringify(out)})`);
  check(cspViolations.length === 0, `no Content Security Policy violations (${JSON.stringify(cspViolations)})`);
} catch (e) {
  check(false, `admin flow: ${e.message}`);
} finally {
  await browser.close();
}
finish();
