// One-off end-to-end check of the Janus VideoRoom API over the WebSocket transport, with real
// WebRTC offers/answers from headless Chromium (fake camera and microphone). It records every
// message exchanged, so loadtest/janus/README.md can quote real examples.
//
//   node --experimental-websocket loadtest/janus/flow-check.mjs <ws-url> <out-dir>
//
// Run it inside the benchmark namespace with Janus started by start.sh (selftest.sh --flow
// does all of that). Writes <out-dir>/flow-check.jsonl (every message, in order) and
// <out-dir>/flow-check-summary.json; exits non-zero if any step fails.
//
// Steps: info; create session; attach 4 handles; create room; publisher A joinandconfigure
// with a trickled offer; publisher B joinandconfigure with a non-trickle offer (all candidates in
// the SDP, jsep.trickle=false) -> A gets a "publishers" event; subscriber S1 join
// (streams:[{feed:A}]) -> "attached" + offer; start with a trickled answer; S1 "subscribe" to B
// too (multistream renegotiation: "updated" + offer, "start" + answer); subscriber S2 join
// to B's streams, start with an answer carrying its candidates and no trickle at all; media
// checked in the browser's getStats; an ICE probe (STUN Binding requests, with the credentials
// of a fourth publisher's offer, to Janus's candidate from 10.200.0.2, 127.0.0.1 and 10.200.0.1:
// which client addresses does Janus answer?); keepalive; listparticipants; unpublish; leave;
// detach; destroy room; destroy session.
import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';
import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../e2e/package.json'));
const { chromium } = require('playwright-core');

const [wsUrl = 'ws://127.0.0.1:8188', outDir = '/tmp/janus-flow'] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const ROOM = 4242;
const t0 = Date.now();
const log = [];
const summary = { steps: [], ok: true };
const step = (name, data = {}) => {
  summary.steps.push({ name, ms: Date.now() - t0, ...data });
  console.log(`[${((Date.now() - t0) / 1000).toFixed(2)}s] ${name} ${JSON.stringify(data)}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class JanusWs {
  constructor(url) { this.url = url; this.pending = new Map(); this.events = []; this.waiters = []; this.n = 0; }
  async open() {
    this.ws = new WebSocket(this.url, 'janus-protocol');
    await new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = (e) => reject(new Error(`websocket error ${e.message ?? ''}`));
    });
    step('websocket open', { protocol: this.ws.protocol });
    this.ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      log.push({ ms: Date.now() - t0, dir: 'in', msg });
      const p = msg.transaction && this.pending.get(msg.transaction);
      if (p && (msg.janus !== 'ack' || p.ack)) {
        this.pending.delete(msg.transaction);
        p.resolve(msg);
        return;
      }
      if (msg.janus === 'ack') return;
      this.events.push(msg);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(msg)) { w.resolve(msg); return false; }
        return true;
      });
    };
  }
  /** Sends a request; resolves with the first reply carrying its transaction (skipping "ack"
   * unless ack=true, for requests that only ever get an ack). */
  call(body, { ack = false, timeout = 10000 } = {}) {
    const transaction = `t${++this.n}`;
    const msg = { ...body, transaction };
    log.push({ ms: Date.now() - t0, dir: 'out', msg });
    this.ws.send(JSON.stringify(msg));
    return new Promise((resolve, reject) => {
      this.pending.set(transaction, { resolve, ack });
      setTimeout(() => {
        if (this.pending.delete(transaction)) reject(new Error(`timeout waiting for reply to ${JSON.stringify(body).slice(0, 120)}`));
      }, timeout);
    });
  }
  /** Waits for an asynchronous event (already received or future) matching pred. */
  wait(pred, what, timeout = 15000) {
    const i = this.events.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        if (this.waiters.includes(w)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`timeout waiting for ${what}`));
        }
      }, timeout);
    });
  }
}

const must = (cond, what) => { if (!cond) throw new Error(`check failed: ${what}`); };
const plugindata = (m) => m?.plugindata?.data ?? {};

// Page-side helpers (strings evaluated in the page).
const PAGE = () => {
  window.pcs = {};
  window.cands = {};
  const watch = (name, pc) => {
    window.cands[name] = { list: [], done: false };
    pc.onicecandidate = (e) => {
      if (e.candidate) window.cands[name].list.push(e.candidate.toJSON());
      else window.cands[name].done = true;
    };
  };
  const gathered = (pc) => new Promise((r) => {
    if (pc.iceGatheringState === 'complete') return r();
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') r(); });
  });
  window.publisherOffer = async (name, waitGathering) => {
    const pc = new RTCPeerConnection();
    window.pcs[name] = pc;
    watch(name, pc);
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [stream] });
    await pc.setLocalDescription(await pc.createOffer());
    if (waitGathering) await gathered(pc);
    return { type: 'offer', sdp: pc.localDescription.sdp };
  };
  window.subscriberAnswer = async (name, offer, waitGathering) => {
    const pc = new RTCPeerConnection();
    window.pcs[name] = pc;
    watch(name, pc);
    pc.ontrack = (e) => {
      const v = document.createElement(e.track.kind);
      v.srcObject = new MediaStream([e.track]);
      v.muted = true;
      v.autoplay = true;
      document.body.appendChild(v);
    };
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    if (waitGathering) await gathered(pc);
    return { type: 'answer', sdp: pc.localDescription.sdp };
  };
  window.setRemote = (name, desc) => window.pcs[name].setRemoteDescription(desc);
  window.reanswer = async (name, offer) => {
    const pc = window.pcs[name];
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    return { type: 'answer', sdp: pc.localDescription.sdp };
  };
  window.takeCands = (name) => {
    const c = window.cands[name];
    const out = { list: c.list.splice(0), done: c.done };
    if (c.done) c.done = 'sent';
    return out;
  };
  window.report = async (name) => {
    const pc = window.pcs[name];
    const stats = await pc.getStats();
    const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    const out = { connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState, inbound: [], outbound: [] };
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = byId.get(s.selectedCandidatePairId);
        const l = byId.get(pair.localCandidateId);
        const r = byId.get(pair.remoteCandidateId);
        out.selectedPair = { local: `${l.address}:${l.port} ${l.candidateType}`, remote: `${r.address}:${r.port} ${r.candidateType}` };
      }
      if (s.type === 'candidate-pair') {
        const l = byId.get(s.localCandidateId);
        const r = byId.get(s.remoteCandidateId);
        (out.pairs ??= []).push(`${l.address}:${l.port} -> ${r.address}:${r.port} ${s.state}${s.nominated ? ' nominated' : ''}`);
      }
      if (s.type === 'inbound-rtp') out.inbound.push({ kind: s.kind, packets: s.packetsReceived, framesDecoded: s.framesDecoded, bytes: s.bytesReceived });
      if (s.type === 'outbound-rtp') out.outbound.push({ kind: s.kind, packets: s.packetsSent, bytes: s.bytesSent });
    });
    return out;
  };
  window.closePc = (name) => window.pcs[name].close();
};

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // Janus runs with ignore_mdns: the browser must expose its host addresses.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

async function trickleAll(janus, page, sessionId, handleId, name, timeoutMs = 5000) {
  const sent = [];
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const { list, done } = await page.evaluate((n) => window.takeCands(n), name);
    if (list.length) {
      await janus.call({ janus: 'trickle', session_id: sessionId, handle_id: handleId, candidates: list }, { ack: true });
      sent.push(...list.map((c) => c.candidate));
    }
    if (done === true) {
      await janus.call({ janus: 'trickle', session_id: sessionId, handle_id: handleId, candidate: { completed: true } }, { ack: true });
      return sent;
    }
    await sleep(50);
  }
  throw new Error(`${name}: candidate gathering did not complete`);
}


// ICE reachability probe: a STUN Binding request, as an ICE agent would send it, to Janus's
// candidate from a socket bound to `fromIp`; resolves with the response class or 'no answer'.
function stunCheck(fromIp, to, remoteUfrag, localUfrag, remotePwd) {
  const attr = (type, value) => {
    const pad = (4 - (value.length % 4)) % 4;
    const b = Buffer.alloc(4 + value.length + pad);
    b.writeUInt16BE(type, 0);
    b.writeUInt16BE(value.length, 2);
    value.copy(b, 4);
    return b;
  };
  const txid = randomBytes(12);
  const header = (len) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(0x0001, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(0x2112a442, 4);
    txid.copy(h, 8);
    return h;
  };
  const prio = Buffer.alloc(4); prio.writeUInt32BE(0x6e0001ff, 0);
  const body = Buffer.concat([
    attr(0x0006, Buffer.from(`${remoteUfrag}:${localUfrag}`)),
    attr(0x0024, prio),
    attr(0x802a, randomBytes(8)),
  ]);
  const hmac = createHmac('sha1', remotePwd).update(Buffer.concat([header(body.length + 24), body])).digest();
  const withMi = Buffer.concat([body, attr(0x0008, hmac)]);
  const fpValue = Buffer.alloc(4);
  fpValue.writeUInt32BE((crc32(Buffer.concat([header(withMi.length + 8), withMi])) ^ 0x5354554e) >>> 0, 0);
  const msg = Buffer.concat([header(withMi.length + 8), withMi, attr(0x8028, fpValue)]);
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    let done = false;
    const finish = (r) => { if (!done) { done = true; sock.close(); resolve(r); } };
    sock.on('error', (e) => finish(`error ${e.code}`));
    sock.on('message', (m, rinfo) => {
      const type = m.readUInt16BE(0);
      if (m.subarray(8, 20).equals(txid)) {
        finish(`${type === 0x0101 ? 'binding success' : type === 0x0111 ? 'binding error' : `type 0x${type.toString(16)}`} from ${rinfo.address}:${rinfo.port}`);
      }
    });
    sock.bind(0, fromIp, () => {
      let n = 0;
      const send = () => {
        if (done || n >= 10) return;
        n += 1;
        sock.send(msg, to.port, to.ip);
        setTimeout(send, 100);
      };
      send();
      setTimeout(() => finish('no answer in 1.5 s'), 1500);
    });
  });
}
const sdpAttr = (sdp, name) => (sdp.match(new RegExp(`^a=${name}:(.+)$`, 'm')) ?? [])[1]?.trim();

const candidatesIn = (sdp) => sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));

let browser;
let exitCode = 0;
try {
  const janus = new JanusWs(wsUrl);
  await janus.open();

  const info = await janus.call({ janus: 'info' });
  must(info.janus === 'server_info', 'info');
  step('info', { version: info.version_string, plugins: Object.keys(info.plugins), transports: Object.keys(info.transports) });

  const created = await janus.call({ janus: 'create' });
  must(created.janus === 'success', 'create session');
  const session = created.data.id;
  step('session', { session });

  const attach = async (label) => {
    const r = await janus.call({ janus: 'attach', session_id: session, plugin: 'janus.plugin.videoroom', opaque_id: `flow-check-${label}` });
    must(r.janus === 'success', `attach ${label}`);
    return r.data.id;
  };
  const hA = await attach('pubA');
  const hB = await attach('pubB');
  const hS1 = await attach('subA');
  const hS2 = await attach('subB');
  step('attached', { hA, hB, hS1, hS2 });
  const msg = (handle, body, jsep, opts) => janus.call({ janus: 'message', session_id: session, handle_id: handle, body, ...(jsep ? { jsep } : {}) }, opts);

  // Room: synchronous request, answered with "success" + plugindata (no ack).
  const createRoom = await msg(hA, {
    request: 'create', room: ROOM, description: 'cohort-loadtest', publishers: 100, bitrate: 0,
    fir_freq: 0, audiocodec: 'opus', videocodec: 'vp8', record: false, notify_joining: false,
    audiolevel_ext: false, videoorient_ext: false, playoutdelay_ext: false, transport_wide_cc_ext: true,
  });
  must(plugindata(createRoom).videoroom === 'created', `room create: ${JSON.stringify(plugindata(createRoom))}`);
  step('room created', plugindata(createRoom));
  const again = await msg(hA, { request: 'create', room: ROOM, publishers: 100 });
  step('room create again (expect error 427)', plugindata(again));

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.route('http://localhost/flow', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>flow</title>' }));
  await page.goto('http://localhost/flow');
  await page.evaluate(PAGE);

  // Publisher A: offer sent before gathering finished, candidates trickled afterwards.
  const offerA = await page.evaluate(() => window.publisherOffer('A', false));
  step('publisher A offer', { candidatesInSdp: candidatesIn(offerA.sdp).length });
  const joinedA = await msg(hA, { request: 'joinandconfigure', ptype: 'publisher', room: ROOM, display: 'pubA' }, offerA);
  must(plugindata(joinedA).videoroom === 'joined' && joinedA.jsep?.type === 'answer', `A joined: ${JSON.stringify(plugindata(joinedA))}`);
  const idA = plugindata(joinedA).id;
  step('publisher A joined', { id: idA, publishers: plugindata(joinedA).publishers, answerCandidates: candidatesIn(joinedA.jsep.sdp) });
  await page.evaluate(([d]) => window.setRemote('A', d), [joinedA.jsep]);
  const trickledA = await trickleAll(janus, page, session, hA, 'A');
  step('publisher A trickled', { candidates: trickledA });
  await janus.wait((m) => m.janus === 'webrtcup' && m.sender === hA, 'webrtcup A');
  step('publisher A webrtcup');
  await janus.wait((m) => m.janus === 'media' && m.sender === hA && m.type === 'video' && m.receiving, 'media video A');
  step('publisher A media video receiving');
  // The "publishers" event for A reaches other participants only; B joins after A.

  // Publisher B: all candidates in the SDP, jsep.trickle=false, no trickle messages at all.
  const offerB = await page.evaluate(() => window.publisherOffer('B', true));
  step('publisher B offer (gathered)', { candidatesInSdp: candidatesIn(offerB.sdp) });
  const joinedB = await msg(hB, { request: 'joinandconfigure', ptype: 'publisher', room: ROOM, display: 'pubB' }, { ...offerB, trickle: false });
  must(plugindata(joinedB).videoroom === 'joined' && joinedB.jsep?.type === 'answer', 'B joined');
  const idB = plugindata(joinedB).id;
  step('publisher B joined', { id: idB, publishers: plugindata(joinedB).publishers });
  await page.evaluate(([d]) => window.setRemote('B', d), [joinedB.jsep]);
  await janus.wait((m) => m.janus === 'webrtcup' && m.sender === hB, 'webrtcup B (candidates in SDP, no trickle)');
  step('publisher B webrtcup (no trickle)');
  const pubEvent = await janus.wait((m) => m.sender === hA && plugindata(m).publishers, '"publishers" event on A');
  step('publisher A got publishers event', plugindata(pubEvent));

  // Subscriber S1 to all of A's streams: "attached" + offer; answer trickled.
  const attached = await msg(hS1, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: idA }] });
  must(plugindata(attached).videoroom === 'attached' && attached.jsep?.type === 'offer', 'S1 attached');
  step('subscriber S1 attached', { streams: plugindata(attached).streams, offerCandidates: candidatesIn(attached.jsep.sdp) });
  const answerS1 = await page.evaluate(([o]) => window.subscriberAnswer('S1', o, false), [attached.jsep]);
  const started = await msg(hS1, { request: 'start' }, answerS1);
  must(plugindata(started).started === 'ok', 'S1 started');
  step('subscriber S1 started', { data: plugindata(started), jsep: started.jsep ?? null });
  const trickledS1 = await trickleAll(janus, page, session, hS1, 'S1');
  step('subscriber S1 trickled', { candidates: trickledS1.length });
  await janus.wait((m) => m.janus === 'webrtcup' && m.sender === hS1, 'webrtcup S1');
  step('subscriber S1 webrtcup');

  // Subscriber S2 to B's video only (feed + mid), answer with candidates inside and no trickle.
  const vidB = plugindata(joinedB).id && (plugindata(pubEvent).publishers[0].streams.find((s) => s.type === 'video') ?? {}).mid;
  const attached2 = await msg(hS2, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: idB, mid: vidB }] });
  must(plugindata(attached2).videoroom === 'attached', 'S2 attached');
  step('subscriber S2 attached', { streams: plugindata(attached2).streams });
  const answerS2 = await page.evaluate(([o]) => window.subscriberAnswer('S2', o, true), [attached2.jsep]);
  step('subscriber S2 answer (gathered)', { candidatesInSdp: candidatesIn(answerS2.sdp).length });
  const started2 = await msg(hS2, { request: 'start' }, answerS2);
  must(plugindata(started2).started === 'ok', 'S2 started');
  await janus.wait((m) => m.janus === 'webrtcup' && m.sender === hS2, 'webrtcup S2 (candidates in SDP, no trickle)');
  step('subscriber S2 webrtcup (no trickle)');

  // Multistream: add B's streams to the existing subscription S1 ("subscribe" -> "updated" +
  // a new offer, answered with "start" like the first one).
  const upd = await msg(hS1, { request: 'subscribe', streams: [{ feed: idB }] });
  step('subscriber S1 subscribe to B', { data: plugindata(upd), jsep: upd.jsep ? upd.jsep.type : null });
  let updOffer = upd.jsep;
  if (!updOffer) {
    const ev = await janus.wait((m) => m.sender === hS1 && plugindata(m).videoroom === 'updated' && m.jsep, 'S1 updated offer');
    step('subscriber S1 updated (async)', { streams: plugindata(ev).streams });
    updOffer = ev.jsep;
  }
  must(updOffer?.type === 'offer', 'S1 renegotiation offer');
  const reAnswer = await page.evaluate(([o]) => window.reanswer('S1', o), [updOffer]);
  const restarted = await msg(hS1, { request: 'start' }, reAnswer);
  step('subscriber S1 start (renegotiated)', plugindata(restarted));

  // Media through the SFU, as the browser sees it.
  let repS1;
  for (let i = 0; i < 50; i += 1) {
    repS1 = await page.evaluate(() => window.report('S1'));
    const vs = repS1.inbound.filter((s) => s.kind === 'video');
    if (vs.length >= 2 && vs.every((v) => v.framesDecoded > 30)) break;
    await sleep(200);
  }
  const repS2 = await page.evaluate(() => window.report('S2'));
  const repA = await page.evaluate(() => window.report('A'));
  step('browser stats', { A: repA, S1: repS1, S2: repS2 });
  must(repS1.inbound.filter((s) => s.kind === 'video').length === 2, 'S1 receives two videos (A and B)');
  must(repS1.inbound.filter((s) => s.kind === 'video').every((s) => s.framesDecoded > 30), 'S1 decoded video frames from A and B');
  must(repS1.inbound.find((s) => s.kind === 'audio')?.packets > 50, 'S1 audio packets');
  must(repS2.inbound.find((s) => s.kind === 'video')?.framesDecoded > 0, 'S2 decoded video frames');


  // Which client addresses can reach Janus's candidate? Publisher C's offer comes from Chromium,
  // but its answer is NOT applied in the browser; instead STUN checks with C's credentials are
  // sent to Janus from sockets bound to each candidate address a load client could use.
  const hC = await attach('probe');
  const offerC = await page.evaluate(() => window.publisherOffer('C', false));
  const joinedC = await msg(hC, { request: 'joinandconfigure', ptype: 'publisher', room: ROOM, display: 'probe' }, offerC);
  must(joinedC.jsep?.type === 'answer', 'C joined');
  const candC = candidatesIn(joinedC.jsep.sdp)[0].split(' ');
  const target = { ip: candC[4], port: Number(candC[5]) };
  const probe = {};
  for (const ip of ['10.200.0.2', '127.0.0.1', '10.200.0.1']) {
    probe[ip] = await stunCheck(ip, target, sdpAttr(joinedC.jsep.sdp, 'ice-ufrag'), sdpAttr(offerC.sdp, 'ice-ufrag'), sdpAttr(joinedC.jsep.sdp, 'ice-pwd'));
  }
  step('ICE probe: STUN checks to Janus candidate', { target: `${target.ip}:${target.port}`, from: probe });
  await page.evaluate(() => window.closePc('C'));
  await msg(hC, { request: 'leave' });
  await janus.call({ janus: 'detach', session_id: session, handle_id: hC });

  const ka = await janus.call({ janus: 'keepalive', session_id: session }, { ack: true });
  step('keepalive', ka);
  const parts = await msg(hA, { request: 'listparticipants', room: ROOM });
  step('listparticipants', plugindata(parts));

  // Teardown, in the order a client would do it.
  const unpub = await msg(hB, { request: 'unpublish' });
  step('B unpublish', plugindata(unpub));
  const unpubEv = await janus.wait((m) => m.sender === hA && plugindata(m).unpublished !== undefined, 'unpublished event on A');
  step('A got unpublished event', plugindata(unpubEv));
  const s2ev = await janus.wait((m) => m.sender === hS2 && (m.janus === 'hangup' || plugindata(m).videoroom === 'updated' || plugindata(m).left !== undefined), 'S2 notified of B unpublish', 5000).catch((e) => ({ error: e.message }));
  step('S2 after B unpublished', { janus: s2ev.janus, data: plugindata(s2ev), jsep: s2ev.jsep ? s2ev.jsep.type : null, error: s2ev.error });
  const leaveS1 = await msg(hS1, { request: 'leave' });
  step('S1 leave', plugindata(leaveS1));
  const leaveA = await msg(hA, { request: 'leave' });
  step('A leave', plugindata(leaveA));
  for (const [h, n] of [[hA, 'A'], [hB, 'B'], [hS1, 'S1'], [hS2, 'S2']]) {
    const d = await janus.call({ janus: 'detach', session_id: session, handle_id: h });
    step(`detach ${n}`, { janus: d.janus });
  }
  const hX = await attach('admin');
  const destroyed = await janus.call({ janus: 'message', session_id: session, handle_id: hX, body: { request: 'destroy', room: ROOM } });
  step('room destroy', plugindata(destroyed));
  const sd = await janus.call({ janus: 'destroy', session_id: session });
  step('session destroy', { janus: sd.janus });
  janus.ws.close();
} catch (e) {
  summary.ok = false;
  summary.error = String(e.stack ?? e);
  console.error(`FAILED: ${e.stack ?? e}`);
  exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  writeFileSync(path.join(outDir, 'flow-check.jsonl'), log.map((l) => JSON.stringify(l)).join('\n') + '\n');
  writeFileSync(path.join(outDir, 'flow-check-summary.json'), JSON.stringify(summary, null, 2));
  console.log(`flow-check: ${summary.ok ? 'OK' : 'FAILED'}; messages in ${path.join(outDir, 'flow-check.jsonl')}`);
}
process.exit(exitCode);
