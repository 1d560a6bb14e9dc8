// Two headless Chromium pages speak Cohort's signaling protocol with plain RTCPeerConnections:
// each publishes a fake camera and microphone and must decode the other's video and receive its
// audio. Run inside a loopback-only network namespace against a running server:
//   node protocol-smoke.test.mjs http://127.0.0.1:18080 (scripts/e2e.sh does this)
import { chromium } from 'playwright-core';




const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const wsUrl = base.replace(/^http/, 'ws') + '/api/v1/rtc';

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection',
  ],
});

async function peer(name) {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  page.on('console', (m) => console.log(`[${name}] ${m.text()}`));
  await page.goto(base + '/');
  await page.evaluate(async ({ wsUrl, name }) => {
    const ws = new WebSocket(wsUrl);
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    const send = (m) => ws.send(JSON.stringify(m));
    const pub = new RTCPeerConnection();
    const sub = new RTCPeerConnection();
    window.cohort = { pub, sub, log: [] };
    const remoteSet = { publish: false, subscribe: false };
    const held = { publish: [], subscribe: [] };
    const pcOf = (t) => (t === 'publish' ? pub : sub);
    pub.onicecandidate = (e) => e.candidate && send({ type: 'candidate', target: 'publish', candidate: e.candidate.toJSON() });
    sub.onicecandidate = (e) => e.candidate && send({ type: 'candidate', target: 'subscribe', candidate: e.candidate.toJSON() });
    const flush = async (t) => { for (const c of held[t].splice(0)) await pcOf(t).addIceCandidate(c).catch(() => {}); };
    let chain = Promise.resolve();
    ws.onmessage = (ev) => {
      chain = chain.then(async () => {
        const m = JSON.parse(ev.data);
        window.cohort.log.push(m.type === 'error' ? `error:${m.code}:${m.message}` : m.type);
        if (m.type === 'publish_answer') {
          await pub.setRemoteDescription({ type: 'answer', sdp: m.sdp });
          remoteSet.publish = true; await flush('publish');
        } else if (m.type === 'subscribe_offer') {
          await sub.setRemoteDescription({ type: 'offer', sdp: m.sdp });
          remoteSet.subscribe = true; await flush('subscribe');
          const answer = await sub.createAnswer();
          await sub.setLocalDescription(answer);
          send({ type: 'subscribe_answer', sdp: answer.sdp });
        } else if (m.type === 'candidate') {
          if (remoteSet[m.target]) await pcOf(m.target).addIceCandidate(m.candidate).catch(() => {});
          else held[m.target].push(m.candidate);
        }
      }).catch((e) => window.cohort.log.push('client-error:' + e));
    };
    send({ type: 'join', v: 1, room: 'smoke', name });
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    for (const t of stream.getTracks()) pub.addTrack(t, stream);
    const offer = await pub.createOffer();
    await pub.setLocalDescription(offer);
    send({
      type: 'publish_offer', sdp: offer.sdp,
      tracks: stream.getTracks().map((t) => ({ track_id: t.id, source: t.kind === 'audio' ? 'microphone' : 'camera' })),
    });
  }, { wsUrl, name });
  return page;
}

async function inbound(page) {
  return page.evaluate(async () => {
    const out = [];
    (await window.cohort.sub.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') out.push({ kind: s.kind, packets: s.packetsReceived, frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0, codec: s.codecId });
    });
    return { out, log: window.cohort.log, pub: window.cohort.pub.connectionState, sub: window.cohort.sub.connectionState };
  });
}

const a = await peer('alice');
const b = await peer('bob');
await new Promise((r) => setTimeout(r, 6000));
let ok = true;
for (const [name, page] of [['alice', a], ['bob', b]]) {
  const r = await inbound(page);
  console.log(name, JSON.stringify(r));
  const video = r.out.find((s) => s.kind === 'video');
  const audio = r.out.find((s) => s.kind === 'audio');
  if (!video || video.frames < 30 || video.width < 320) { ok = false; console.log(`${name}: video not decoded`); }
  if (!audio || audio.packets < 100) { ok = false; console.log(`${name}: audio not received`); }
}
await browser.close();
console.log(ok ? 'protocol-smoke: passed' : 'protocol-smoke: failed');
process.exit(ok ? 0 : 1);
