// Shared helpers for the browser tests: launching Debian's Chromium with fake devices, wrapping
// RTCPeerConnection so tests can read getStats(), and waiting for conditions.
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
];

export async function launchChromium() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

// Runs in the page before any of its scripts: keeps every RTCPeerConnection, and lets tests
// stand in for the screen picker with a moving canvas.
export const INIT = () => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
  if (navigator.mediaDevices) {
    navigator.mediaDevices.getDisplayMedia = async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 1280;
      canvas.height = 720;
      const g = canvas.getContext('2d');
      let n = 0;
      setInterval(() => {
        n += 1;
        g.fillStyle = '#234';
        g.fillRect(0, 0, 1280, 720);
        g.fillStyle = '#fff';
        g.font = '64px sans-serif';
        g.fillText(`Shared slide ${n}`, 80 + (n % 200), 360);
      }, 50);
      return canvas.captureStream(20);
    };
  }
};

export async function newPage(browser, { base, name, options = {} }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[${name}] page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.log(`[${name}] console: ${m.text()}`); });
  await page.addInitScript(INIT);
  return { context, page, name, base };
}

/** Polls fn (in Node) until it returns truthy or the time runs out; returns the last value. */
export async function until(fn, timeoutMs, what) {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeoutMs) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
}

// Page-side probes, as expressions, so that Playwright (Chromium) and WebDriver (Firefox) run
// the very same code.
export const REMOTE_VIDEOS = `[...document.querySelectorAll('.tile')]
  .filter((t) => !t.querySelector('.name')?.textContent.endsWith('(you)'))
  .map((t) => {
    const v = t.querySelector('video');
    return { participant: t.dataset.participant, kind: t.dataset.kind, width: v?.videoWidth ?? 0, time: v?.currentTime ?? 0, noVideo: t.classList.contains('no-video') };
  })`;

/** Frames received on the page's inbound video streams, summed (for page.evaluate). */
export const FRAMES_IN = `(async () => {
  let n = 0;
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesReceived ?? 0; });
  }
  return n;
})()`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Each connection a page ever made (a rejoin would add some): its state, ICE ufrags (ours, the server's), the selected pair's
 *  local port and protocol, and what it has received (for page.evaluate, or Firefox's exec).
 *  Chromium names the pair in its transport stats, Firefox marks it `selected`. */
export const CONNECTIONS = `(async () => {
  const ufrag = (d) => d?.sdp.match(/a=ice-ufrag:(\\S+)/)?.[1] ?? null;
  const out = [];
  for (const pc of window.__pcs) {
    const c = { state: pc.connectionState, local: ufrag(pc.localDescription), remote: ufrag(pc.remoteDescription), port: null, protocol: null, audio: 0, frames: 0 };
    const stats = await pc.getStats();
    let pairId = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      if (s.type === 'inbound-rtp' && s.kind === 'audio') c.audio += s.packetsReceived;
      if (s.type === 'inbound-rtp' && s.kind === 'video') c.frames += s.framesDecoded ?? 0;
    });
    if (!pairId) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.selected && s.state === 'succeeded') pairId = s.id; });
    const cand = pairId ? stats.get(stats.get(pairId)?.localCandidateId) : null;
    c.port = cand?.port ?? null;
    c.protocol = cand?.protocol ?? null;
    out.push(c);
  }
  return out;
})()`;

export const INBOUND_AUDIO = `(async () => {
  let n = 0;
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') n += s.packetsReceived; });
  }
  return n;
})()`;

/** Remote videos in the grid: [{ participant, kind, width, time, noVideo }]. */
export async function remoteVideos(page) {
  return page.evaluate(REMOTE_VIDEOS);
}

/** Sum of inbound audio packets over the page's connections. */
export async function inboundAudioPackets(page) {
  return page.evaluate(INBOUND_AUDIO);
}

/** A description of the page's peer connections, for failure messages. */
export async function describePcs(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs) {
      out.push(`${pc.connectionState}/${pc.signalingState}`);
      out.push(JSON.stringify(pc.getTransceivers().map((t) => [t.mid, t.direction, t.currentDirection, t.receiver.track.kind])));
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp') out.push(`in ${s.kind} pkts=${s.packetsReceived} frames=${s.framesDecoded}`);
      });
    }
    return out.join('\n');
  });
}

/** Leaves a stored room's home for the pre-join screen (an ad hoc room has no home). */
export async function pastHome(page) {
  await page.waitForSelector('#name, #home-join');
  if (await page.$('#home-join')) {
    await page.waitForSelector('#home-join:not([disabled])');
    await page.click('#home-join');
    await page.waitForSelector('#name');
  }
}

/** Opens the room page as `name` and clicks Join once the devices are ready. `room` may carry
 *  a query (`slug?t=token`); `init`, a script run in the page before its own. */
export async function joinRoom(browser, base, room, name, options = {}, init = null) {
  const p = await newPage(browser, { base, name, options });
  if (init) await p.page.addInitScript(init);
  await p.page.goto(`${base}/r/${room}`);
  await pastHome(p.page);
  await p.page.fill('#name', name);
  await p.page.waitForSelector('#join:not([disabled])');
  p.clicked = Date.now();
  await p.page.click('#join');
  return p;
}

/** WCAG contrast of every visible text element in the page: [{ text, ratio, needed }] that fail. */
// Controls on screen that cannot be brought into the viewport by scrolling (the page, or a
// scrolling table around them).
export const UNREACHABLE = `(() => [...document.querySelectorAll('button, input, select, a, textarea, summary')]
  .filter((e) => e.getClientRects().length && !e.closest('dialog:not([open])'))
  .filter((e) => {
    e.scrollIntoView({ block: 'center', inline: 'center' });
    const r = e.getBoundingClientRect();
    return r.right <= 0 || r.left >= innerWidth || r.bottom <= 0 || r.top >= innerHeight;
  }).map((e) => e.getAttribute('aria-label') || e.textContent.trim() || e.id))()`;

export const CONTRAST_FAILURES = `(() => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g) || []; return m.map(Number).concat([1]).slice(0, 4); };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [0, 0, 0];
    for (const [r, g, b, a] of layers.reverse()) out = [r * a + out[0] * (1 - a), g * a + out[1] * (1 - a), b * a + out[2] * (1 - a)];
    return out;
  };
  const fails = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    const st = getComputedStyle(el);
    const fg = parse(st.color);
    const bg = background(el);
    const blended = [0, 1, 2].map((i) => fg[i] * fg[3] + bg[i] * (1 - fg[3]));
    const [l1, l2] = [lum(blended), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) fails.push({ text: el.textContent.trim().slice(0, 30), ratio: Math.round(ratio * 100) / 100, needed });
  }
  return fails;
})()`;

/** Named checks for a test file; `finish()` prints the file's verdict and exits with it. */
export function reporter(name) {
  let failures = 0;
  return {
    check(ok, what) {
      console.log(`${ok ? 'ok' : 'FAIL'} - ${what}`);
      if (!ok) failures += 1;
    },
    finish() {
      console.log(failures === 0 ? `${name}: passed` : `${name}: ${failures} failed`);
      process.exit(failures === 0 ? 0 : 1);
    },
  };
}

/** Calls Cohort's API with the admin key that scripts/e2e.sh gave the server. */
export async function api(base, method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${process.env.COHORT_ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Ten seconds of a voice-like sound for Chromium's fake microphone: two tones whose loudness
 *  swells and fades three times a second, never silent, 48 kHz mono 16-bit. */
export function speechWav(path) {
  const rate = 48000;
  const n = rate * 10;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i += 1) {
    const t = i / rate;
    const envelope = 0.55 + 0.45 * Math.sin(2 * Math.PI * 3 * t);
    const v = envelope * (0.5 * Math.sin(2 * Math.PI * 220 * t) + 0.3 * Math.sin(2 * Math.PI * 440 * t) + 0.1 * Math.sin(2 * Math.PI * 1330 * t));
    data.writeInt16LE(Math.round(v * 32767 * 0.9), i * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24); h.writeUInt32LE(rate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36); h.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([h, data]));
}
