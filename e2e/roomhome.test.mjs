// A stored room's home in real Chromium: the room's name and description, the Join button, and
// its kept chat, live for everyone on the home page and in the call without a reload; authors
// edit and delete their own messages; text stays text; the page passes the contrast check and
// works from the keyboard.
//   node roomhome.test.mjs http://127.0.0.1:18080   (COHORT_ADMIN_KEY: the server's admin key)
import { launchChromium, newPage, until, pastHome, CONTRAST_FAILURES, reporter, api } from './lib.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const browser = await launchChromium();
const { check, finish } = reporter('roomhome');
const texts = (page, log) => page.evaluate((sel) => [...document.querySelectorAll(`${sel} li[data-id] .text`)].map((n) => n.textContent), log);
const waitText = (page, log, want, what) => until(async () => (await texts(page, log)).includes(want), 5000, what).then(() => true).catch(() => false);

try {
  const room = await api(base, 'POST', '/rooms', { name: `Reading Circle ${Date.now()}`, time_zone: 'UTC', description: 'We read a chapter a week.' });
  const shared = await api(base, 'POST', `/rooms/${room.id}/invites`, { role: 'participant' });
  const ada = await api(base, 'POST', `/rooms/${room.id}/members`, { display_name: 'Ada Member' });
  const adaLink = await api(base, 'POST', `/rooms/${room.id}/members/${ada.id}/invites`, {});

  // Ada (a member's personal link) and Bea (a guest, the shared link) open the room's home.
  const a = await newPage(browser, { base, name: 'Ada' });
  await a.page.goto(`${base}/r/${room.slug}?t=${adaLink.token}`);
  await a.page.waitForSelector('#home-join');
  const b = await newPage(browser, { base, name: 'Bea' });
  b.page.on('dialog', (d) => d.accept());
  await b.page.goto(`${base}/r/${room.slug}?t=${shared.token}`);
  await b.page.waitForSelector('#home-chat-input');
  const head = await a.page.evaluate(() => [document.querySelector('h1').textContent, document.querySelector('.home-head .lead')?.textContent]);
  check(head[0] === room.name && head[1] === 'We read a chapter a week.', `the home shows the room: ${JSON.stringify(head)}`);
  check(await a.page.evaluate(() => !document.querySelector('#home-join').disabled), 'a room without a schedule can be joined now');

  // Bea has no name yet: she gives one with her first message, which Ada sees at once.
  check(await b.page.isVisible('#home-chat-name'), 'a guest is asked for a name to post');
  await b.page.fill('#home-chat-name', 'Bea Guest');
  await b.page.fill('#home-chat-input', 'Hello from the home page <img src=x>');
  await b.page.press('#home-chat-input', 'Enter');
  check(await waitText(a.page, '#home-chat-log', 'Hello from the home page <img src=x>', 'Ada sees Bea'), 'a message posted on the home reaches another home without a reload');
  check(await a.page.evaluate(() => !document.querySelector('#home-chat-log img')), 'a message is text, never markup');
  const sender = await a.page.evaluate(() => document.querySelector('#home-chat-log li[data-id] .sender')?.textContent);
  check(sender === 'Bea Guest', `signed with the name she gave (${sender})`);

  // Ada posts and edits her message, with the keyboard only; Bea sees the edit.
  await a.page.focus('#home-chat-input');
  await a.page.keyboard.type('Chapter 3 for next week');
  await a.page.keyboard.press('Enter');
  check(await waitText(b.page, '#home-chat-log', 'Chapter 3 for next week', 'Bea sees Ada'), 'Bea sees Ada\'s message');
  const beaEdits = await b.page.evaluate(() => document.querySelectorAll('#home-chat-log button[aria-label^="Edit"]').length);
  check(beaEdits === 1, `Bea is offered to edit her own message only (${beaEdits} edit buttons)`);
  await until(() => a.page.$('#home-chat-log li.mine button[aria-label^="Edit your message"]'), 5000, 'edit button');
  await a.page.focus('#home-chat-log li.mine button[aria-label^="Edit your message"]');
  await a.page.keyboard.press('Enter');
  await a.page.waitForSelector('#home-chat-log .chat-edit textarea');
  await a.page.fill('#home-chat-log .chat-edit textarea', 'Chapter 4 for next week');
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.press('Enter');
  check(await waitText(b.page, '#home-chat-log', 'Chapter 4 for next week', 'edit reaches Bea'), 'an edit reaches the others live');
  const edited = await b.page.evaluate(() => [...document.querySelectorAll('#home-chat-log .edited')].length);
  check(edited === 1, 'and is marked edited');

  // Bea deletes her message; Ada sees it deleted.
  await b.page.click('#home-chat-log li.mine button[aria-label^="Delete your message"]');
  const deleted = await until(() => a.page.evaluate(() => document.querySelector('#home-chat-log .deleted')?.textContent), 5000, 'deleted').catch(() => null);
  check(deleted === 'Message deleted', `a deleted message shows as deleted (${deleted})`);
  check(!(await texts(a.page, '#home-chat-log')).some((t) => t.includes('<img')), 'and its text is gone');

  // Keyboard and contrast on the home page.
  await a.page.focus('#tab-chat');
  await a.page.keyboard.press('ArrowRight');
  await a.page.keyboard.press('ArrowRight');
  const onBoard = await a.page.evaluate(() => [document.activeElement?.id, document.querySelector('#panel-board').hidden, document.querySelector('#panel-chat').hidden, document.querySelector('#panel-notes').hidden]);
  check(onBoard[0] === 'tab-board' && !onBoard[1] && onBoard[2] && onBoard[3], `the arrow keys move between the tabs, Chat to Notes to Board (${JSON.stringify(onBoard)})`);
  await a.page.keyboard.press('ArrowLeft');
  const low = await a.page.evaluate(CONTRAST_FAILURES);
  check(low.length === 0, `the home passes the WCAG AA contrast check${low.length ? ': ' + JSON.stringify(low) : ''}`);

  // The board: Ada shares a link and a PDF; Bea, on her home page, sees both without a reload
  // and downloads the PDF byte for byte, as an attachment that cannot run.
  const pdf = Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n');
  await b.page.click('#tab-board');
  await a.page.click('#tab-board');
  await a.page.fill('#board-title', 'Photosynthesis video');
  await a.page.fill('#board-url', 'https://example.org/photosynthesis');
  await a.page.click('#board-share button[type=submit]');
  const boardTitles = (page) => page.evaluate(() => [...document.querySelectorAll('#board-list .board-title')].map((n) => n.textContent));
  const sawLink = await until(async () => (await boardTitles(b.page)).includes('Photosynthesis video'), 5000, 'link live').then(() => true).catch(() => false);
  check(sawLink, 'a link shared on one home appears on another without a reload');
  const href = await b.page.evaluate(() => document.querySelector('#board-list a.board-title')?.getAttribute('href'));
  check(href === 'https://example.org/photosynthesis', `the link goes where it was shared to (${href})`);
  await a.page.check('input[name=board-kind][value=file]');
  await a.page.fill('#board-title', 'Week 3 slides');
  await a.page.setInputFiles('#board-file', { name: 'week3.pdf', mimeType: 'application/pdf', buffer: pdf });
  await a.page.click('#board-share button[type=submit]');
  const sawFile = await until(async () => (await boardTitles(b.page)).includes('Week 3 slides'), 5000, 'file live').then(() => true).catch(() => false);
  check(sawFile, 'a file shared on one home appears on another without a reload');
  const got = await b.page.evaluate(async () => {
    const a = [...document.querySelectorAll('#board-list a.board-title')].find((n) => n.textContent === 'Week 3 slides');
    const res = await fetch(a.getAttribute('href'));
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { bytes: Array.from(bytes), disposition: res.headers.get('content-disposition'), csp: res.headers.get('content-security-policy'), nosniff: res.headers.get('x-content-type-options') };
  });
  check(Buffer.from(got.bytes).equals(pdf), 'the PDF downloads byte for byte');
  check(got.disposition?.startsWith('attachment;') && got.disposition.includes("filename*=UTF-8''week3.pdf") && got.csp === "default-src 'none'; sandbox" && got.nosniff === 'nosniff',
    `and as an attachment that cannot run (${got.disposition}; ${got.csp}; ${got.nosniff})`);
  // A note's Markdown is rendered, safely: formatting and web links, nothing that runs or
  // fetches.
  await a.page.check('input[name=board-kind][value=text]');
  await a.page.fill('#board-title', 'Reading plan');
  await a.page.fill('#board-text', '**Chapter 4** first, then [the video](https://example.org/v).\n\n- one\n- two\n\n<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">\n[click](javascript:window.__pwned=3) ![pixel](https://example.org/p.png)');
  await a.page.click('#board-share button[type=submit]');
  const note = await until(() => b.page.evaluate(() => {
    const li = [...document.querySelectorAll('#board-list li')].find((n) => n.querySelector('.board-title')?.textContent === 'Reading plan');
    const n = li?.querySelector('.board-note');
    if (!n) return null;
    return {
      strong: n.querySelector('strong')?.textContent,
      links: [...n.querySelectorAll('a')].map((x) => [x.textContent, x.getAttribute('href'), x.getAttribute('rel')]),
      items: n.querySelectorAll('li').length,
      bad: n.querySelectorAll('script, img, [onerror], style, iframe').length,
      pwned: window.__pwned ?? 0,
      text: n.textContent,
    };
  }), 5000, 'note live').catch(() => null);
  check(note?.strong === 'Chapter 4' && note.items === 2, `a note's Markdown is rendered (${JSON.stringify(note)})`);
  check(JSON.stringify(note?.links?.[0]) === JSON.stringify(['the video', 'https://example.org/v', 'noopener noreferrer nofollow']), 'its web links work and carry no referrer');
  check(note?.bad === 0 && note.pwned === 0 && !note.links.some(([, href]) => href?.startsWith('javascript')),
    `and nothing in it runs or fetches (${note?.bad} elements, pwned ${note?.pwned}, links ${JSON.stringify(note?.links)})`);
  const boardLow = await b.page.evaluate(CONTRAST_FAILURES);
  check(boardLow.length === 0, `the board passes the contrast check${boardLow.length ? ': ' + JSON.stringify(boardLow) : ''}`);
  await a.page.click('#tab-chat');

  // Ada joins the call: the same conversation is in the call's chat, and what she says there
  // reaches Bea on the home page.
  await pastHome(a.page);
  await a.page.fill('#name', 'Ada');
  await a.page.waitForSelector('#join:not([disabled])');
  await a.page.click('#join');
  await a.page.waitForSelector('#toggle-chat');
  await a.page.click('#toggle-chat');
  check(await waitText(a.page, '#chat-log', 'Chapter 4 for next week', 'history in the call'), 'the call shows the room\'s kept chat');
  await a.page.fill('#chat-input', 'Said in the call');
  await a.page.press('#chat-input', 'Enter');
  check(await waitText(b.page, '#home-chat-log', 'Said in the call', 'call to home'), 'a message said in the call reaches the home page live');
  const meeting = await b.page.evaluate(() => document.querySelectorAll('#home-chat-log .chat-day').length);
  check(meeting === 1, `the conversation is headed by its day (${meeting})`);

  // A host's home: the Meetings tab lists the session Ada is in, and its register shows her
  // present and the roster's other members absent; a CSV link for the host.
  const hostLink = await api(base, 'POST', `/rooms/${room.id}/invites`, { role: 'host' });
  await api(base, 'POST', `/rooms/${room.id}/members`, { display_name: 'Cai Away' });
  const h = await newPage(browser, { base, name: 'Host' });
  await h.page.goto(`${base}/r/${room.slug}?t=${hostLink.token}`);
  await h.page.waitForSelector('#tab-meetings');
  await until(() => h.page.evaluate(() => Boolean(document.querySelector('#home-chat-log li[data-id]'))), 5000, 'host opened');
  await h.page.click('#tab-meetings');
  await h.page.waitForSelector('#meetings-list summary');
  await h.page.click('#meetings-list summary');
  await h.page.waitForSelector('.register-table tbody tr');
  const register = await h.page.evaluate(() => Object.fromEntries([...document.querySelectorAll('.register-table tbody tr')]
    .map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent])));
  check(register['Ada Member'] === 'Present' && register['Cai Away'] === 'Absent', `the host's register: ${JSON.stringify(register)}`);
  check(await h.page.evaluate(() => Boolean(document.querySelector('.register a[href*="format=csv"]'))), 'the host can download the register as CSV');
  const regLow = await h.page.evaluate(CONTRAST_FAILURES);
  check(regLow.length === 0, `the Meetings tab passes the contrast check${regLow.length ? ': ' + JSON.stringify(regLow) : ''}`);
} catch (e) {
  check(false, `room home: ${e.message}`);
}
await browser.close();
finish();
