// Chromium and Firefox in one call: two Chromium participants and one Firefox ESR participant
// (driven through geckodriver) each see the other two's video playing and receive their audio.
// Then Firefox and Chromium edit one shared-notes document together.
//   node firefox.test.mjs http://127.0.0.1:18080   (inside the namespace scripts/e2e.sh makes)
import { launchChromium, newPage, until, remoteVideos, inboundAudioPackets, joinRoom, reporter, api } from './lib.mjs';
import { startFirefox, firefoxProbes, firefoxJoins } from './firefox.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const room = `mixed-${Date.now()}`;
const { check, finish } = reporter('firefox');

const browser = await launchChromium();
const { ff, quit } = await startFirefox(4444);
const firefox = firefoxProbes(ff, 'Fiona (Firefox)');

try {
  const ada = await joinRoom(browser, base, room, 'Ada');
  const bea = await joinRoom(browser, base, room, 'Bea');

  await firefoxJoins(ff, base, room, firefox.name);

  const playing = (vids) => vids.filter((v) => v.kind === 'camera' && v.width > 0 && !v.noVideo).length;
  const everyone = [
    { name: 'Ada', videos: () => remoteVideos(ada.page), audio: () => inboundAudioPackets(ada.page) },
    { name: 'Bea', videos: () => remoteVideos(bea.page), audio: () => inboundAudioPackets(bea.page) },
    firefox,
  ];
  for (const p of everyone) {
    const ok = await until(async () => playing(await p.videos()) === 2, 20000, `${p.name} sees two videos`).catch(() => false);
    check(Boolean(ok), `${p.name} sees two remote videos`);
    if (!ok && p === firefox) {
      const stats = await ff.execAsync(`const done = arguments[arguments.length - 1];
        (async () => { const out = [];
          for (const pc of window.__pcs) { (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') out.push([s.kind, s.packetsReceived, s.framesDecoded, s.pliCount, s.firCount, s.nackCount, s.keyFramesDecoded].join(' ')); }); out.push(pc.connectionState); }
          return out; })().then(done, (e) => done(String(e)));`);
      console.log('firefox inbound:', JSON.stringify(stats));
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const p of everyone) {
    const v0 = await p.videos();
    const a0 = await p.audio();
    await new Promise((r) => setTimeout(r, 1500));
    const v1 = await p.videos();
    const a1 = await p.audio();
    const advancing = v1.filter((v) => v.width > 0 && v.time > (v0.find((w) => w.participant === v.participant)?.time ?? Infinity)).length;
    check(advancing === 2, `${p.name}: two remote videos playing (${v1.map((v) => `${v.width}px`).join(', ')})`);
    check(a1 > a0 && a0 >= 0, `${p.name}: remote audio arriving (${a0} -> ${a1} packets)`);
  }

  // Firefox mutes its microphone, and the others see it: Firefox names its tracks in the offer
  // with ids of its own, not the MediaStreamTrack's, and `mute` must use the offer's.
  const micOff = (page) => page.evaluate((n) => {
    const t = [...document.querySelectorAll('.tile.camera')].find((x) => x.querySelector('.name').textContent === n);
    return t ? !t.querySelector('.mic-off').hidden : null;
  }, firefox.name);
  await ff.click('#toggle-mic');
  const shown = await until(async () => (await micOff(ada.page)) === true, 5000, 'Ada sees Fiona muted').then(() => true).catch(() => false);
  check(shown, `Ada sees Firefox's microphone off (${await micOff(ada.page)})`);
  await ff.click('#toggle-mic');
  const unmuted = await until(async () => (await micOff(ada.page)) === false, 5000, 'Ada sees Fiona unmuted').then(() => true).catch(() => false);
  check(unmuted, 'and on again');

  // Shared notes in Firefox: the import map (allowed by its hash), yjs and the binding load,
  // and its edits and a Chromium page's meet in one document.
  const stored = await api(base, 'POST', '/rooms', { name: 'Notes in two browsers', time_zone: 'UTC' });
  const member = await api(base, 'POST', `/rooms/${stored.id}/members`, { display_name: 'Fiona' });
  const link = (await api(base, 'POST', `/rooms/${stored.id}/members/${member.id}/invites`, {})).token;
  await ff.goto(`${base}/r/${stored.slug}?t=${link}`);
  await until(() => ff.exec("return Boolean(document.querySelector('#tab-notes'));"), 15000, 'Firefox: the room home');
  await ff.click('#tab-notes');
  const ffState = () => ff.exec("return document.querySelector('#notes-state')?.dataset.state ?? '';");
  const ffSaved = await until(async () => (await ffState()) === 'saved', 15000, 'Firefox: notes saved').then(() => true).catch(() => false);
  check(ffSaved, `Firefox opens the shared notes (${await ffState()})`);
  const chrome = await newPage(browser, { base, name: 'Ada (notes)' });
  await chrome.page.goto(`${base}/r/${stored.slug}?t=${link}`);
  await chrome.page.click('#tab-notes');
  await chrome.page.waitForSelector('#notes-state[data-state="saved"]');
  await ff.type('#notes-text', 'Fiona writes in Firefox. ');
  const seen = await until(() => chrome.page.evaluate(() => document.querySelector('#notes-text').value.includes('Fiona writes in Firefox.')), 10000, 'Chromium sees Firefox').then(() => true).catch(() => false);
  check(seen, 'Chromium sees what Firefox typed');
  await chrome.page.focus('#notes-text');
  await chrome.page.keyboard.press('Control+End');
  await chrome.page.keyboard.type('Ada answers from Chromium.');
  const typedBack = await until(() => ff.exec("return document.querySelector('#notes-text').value;").then((v) => v.includes('Ada answers from Chromium.') && v.includes('Fiona writes')), 10000, 'Firefox sees Chromium').then(() => true).catch(() => false);
  check(typedBack, 'Firefox sees what Chromium typed, after its own');
} catch (e) {
  check(false, e.message);
} finally {
  await quit();
  await browser.close();
}
finish();
