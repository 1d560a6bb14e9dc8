// The join timeline (docs/benchmarks.md, "Join time"): one `performance.mark` per step of a
// join, from the click on Join to the first decoded remote frame, named `join:<step>`. Only
// the first of each step counts, so a renegotiation later does not move it. Cheap enough to keep
// always on; with ?debug=join the page also prints the timeline to the console once the first
// remote frame is shown. Tests read the marks with performance.getEntriesByType('mark').

export const STEPS = [
  'media', // getUserMedia resolved (during pre-join, so before the click)
  'click', // Join pressed
  'ws-open', // the signaling WebSocket open
  'joined', // the server's `joined`
  'publish-offer', // our publish offer sent
  'publish-answer', // the server's answer applied
  'publish-ice', // the publish connection's ICE connected
  'publish-connected', // ... and its DTLS (connectionState connected)
  'subscribe-offer', // the first subscribe offer received
  'subscribe-answer', // our answer sent
  'subscribe-ice', // the subscribe connection's ICE connected
  'subscribe-connected', // ... and its DTLS
  'first-track', // the first remote track (ontrack)
  'first-rtp', // the first remote video received (see watchFirstRtp and watchFirstFrame)
  'first-frame', // the first remote video frame shown (requestVideoFrameCallback)
];

const PREFIX = 'join:';
const debug = new URLSearchParams(location.search).get('debug') === 'join';
// Each step marked, with when (ms on the performance timeline).
const seen = new Map();

/** Marks a step at `at` (now by default), once: a later mark of the same step is ignored, an
 *  earlier one (a better observer of the same moment) replaces it. */
export function mark(step, at = performance.now()) {
  if (seen.has(step) && seen.get(step) <= at) return;
  seen.set(step, at);
  performance.clearMarks(PREFIX + step);
  performance.mark(PREFIX + step, { startTime: at });
  if (step === 'first-frame' && debug) console.info(`join timeline (ms from click)\n${describe()}`);
}

/** Forgets the steps after `media`, for a new join (a reconnection keeps its first figures). */
export function restartAfter(step) {
  const keep = STEPS.slice(0, STEPS.indexOf(step) + 1);
  for (const s of [...seen.keys()]) {
    if (!keep.includes(s)) {
      seen.delete(s);
      performance.clearMarks(PREFIX + s);
    }
  }
}

/** Each step marked so far: { step: ms since the click (negative before it) }. */
export function timeline() {
  const at = new Map(performance.getEntriesByType('mark')
    .filter((m) => m.name.startsWith(PREFIX))
    .map((m) => [m.name.slice(PREFIX.length), m.startTime]));
  const zero = at.get('click') ?? 0;
  const out = {};
  for (const s of STEPS) if (at.has(s)) out[s] = Math.round(at.get(s) - zero);
  return out;
}

function describe() {
  return Object.entries(timeline()).map(([s, ms]) => `${s.padEnd(20)} ${String(ms).padStart(6)}`).join('\n');
}

/** Watches a peer connection for its ICE and DTLS steps (`side` is publish or subscribe). */
export function watchConnection(pc, side) {
  pc.addEventListener('iceconnectionstatechange', () => {
    if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') mark(`${side}-ice`);
  });
  pc.addEventListener('connectionstatechange', () => {
    if (pc.connectionState === 'connected') mark(`${side}-connected`);
  });
}

/** Watches the subscribe connection until its first video packet is counted in getStats
 *  (polled, so a little late; where the browser gives a frame's receive time, the first
 *  frame's is earlier and replaces it). */
export function watchFirstRtp(pc) {
  if (seen.has('first-rtp')) return;
  const poll = async () => {
    if (seen.has('first-rtp') || pc.connectionState === 'closed') return;
    const stats = await pc.getStats().catch(() => null);
    let packets = 0;
    stats?.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') packets += s.packetsReceived ?? 0; });
    if (packets > 0) mark('first-rtp');
    else setTimeout(poll, 25);
  };
  poll();
}

/** Watches a remote video element for its first shown frame; the frame's receive time (when
 *  its last packet arrived, given by Chrome) marks the first video received, more exactly than
 *  the getStats poll can. */
export function watchFirstFrame(video) {
  if (seen.has('first-frame')) return;
  if ('requestVideoFrameCallback' in video) {
    video.requestVideoFrameCallback((now, frame) => {
      if (frame.receiveTime) mark('first-rtp', frame.receiveTime);
      // When the frame went to the compositor (the callback's own time can be earlier).
      mark('first-frame', frame.presentationTime ?? now);
    });
  } else {
    // Firefox before 132: the first frame's size is known once one is decoded.
    video.addEventListener('loadeddata', () => mark('first-frame'), { once: true });
  }
}
