// The two peer connections of docs/protocol.md: publish (we offer) and subscribe (the server
// offers). Plain RTCPeerConnection, standards only.

import { mark, watchConnection, watchFirstRtp } from './timeline.js';

/** Candidates that arrive before their description are held, then added. */
class CandidateQueue {
  constructor(pc) {
    this.pc = pc;
    this.held = [];
  }
  async add(candidate) {
    if (!this.pc.remoteDescription) {
      this.held.push(candidate);
      return;
    }
    await this.pc.addIceCandidate(candidate).catch(() => {});
  }
  async flush() {
    for (const c of this.held.splice(0)) await this.pc.addIceCandidate(c).catch(() => {});
  }
}

/** A shared screen keeps its resolution when the link is short, and gives up frame rate
 * instead: text that blurs is lost, a slide that changes a little later is not. */
async function keepResolution(sender) {
  if (!sender) return;
  try {
    const params = sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await sender.setParameters(params);
  } catch {
    // A browser without the setting keeps its own balance.
  }
}

/** Prefers VP8, and H.264 where VP8 is missing (Safari), on a video transceiver. */
function preferCodecs(transceiver) {
  const caps = RTCRtpSender.getCapabilities?.('video');
  if (!caps || !transceiver.setCodecPreferences) return;
  const rank = (c) => {
    const m = c.mimeType.toLowerCase();
    if (m === 'video/vp8') return 0;
    if (m === 'video/h264') return 1;
    return 2;
  };
  const sorted = [...caps.codecs].sort((a, b) => rank(a) - rank(b));
  try {
    transceiver.setCodecPreferences(sorted);
  } catch {
    // Some browsers refuse some orders; their default is fine.
  }
}

// A camera goes out in three qualities (simulcast), lowest first, as docs/protocol.md asks; the
// server sends each subscriber one of them, by the size of its tile and what its link carries,
// and tells us (`set_encodings`) when nobody receives one, so we stop encoding it.
const CAMERA_LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/** The track id our description gives the m-section `mid` (`a=msid:<stream> <track>`). Chrome
 *  writes the MediaStreamTrack's id there, Firefox an id of its own; the server knows a track
 *  by the description's. */
function msidTrackOf(sdp, mid) {
  const section = sdp.split('\r\nm=').find((s) => s.includes(`\r\na=mid:${mid}\r\n`));
  return section?.match(/\r\na=msid:\S+ (\S+)/)?.[1] ?? null;
}

/** The layers a publisher declares for a simulcast camera: RID, height, maxBitrate. */
function declaredLayers(track) {
  const height = track.getSettings?.().height ?? 0;
  return CAMERA_LAYERS.map((l) => ({
    rid: l.rid,
    height: Math.round(height / l.scaleResolutionDownBy),
    max_bitrate: l.maxBitrate,
  }));
}

export class Publisher {
  /** onState(connectionState) hears every change of the connection's state; `simulcast`
   *  sends the camera in layers (the server's `joined.simulcast`). */
  constructor(signaling, onState, { simulcast = false } = {}) {
    this.sig = signaling;
    this.simulcast = simulcast;
    this.pc = new RTCPeerConnection();
    watchConnection(this.pc, 'publish');
    this.queue = new CandidateQueue(this.pc);
    // What we told the server about each published track, by the track id in our offer (until
    // the first offer that carries it, by the MediaStreamTrack's id; see `rekey`).
    this.meta = new Map();
    this.senders = new Map(); // msid -> RTCRtpSender
    this.rekeyed = new Map(); // MediaStreamTrack id -> msid, where they differ (Firefox)
    this.pending = null;
    // One negotiation at a time: a second offer before the first answer would be answered for
    // the wrong description.
    this.chain = Promise.resolve();
    this.pc.addEventListener('icecandidate', (e) => {
      if (e.candidate) this.sig.send({ type: 'candidate', target: 'publish', candidate: e.candidate.toJSON() });
    });
    this.pc.addEventListener('connectionstatechange', () => onState?.(this.pc.connectionState));
    this.onAnswer = async (e) => {
      await this.pc.setRemoteDescription({ type: 'answer', sdp: e.detail.sdp });
      mark('publish-answer');
      await this.queue.flush();
      this.pending?.resolve();
    };
    this.onCandidate = (e) => {
      if (e.detail.target === 'publish') this.queue.add(e.detail.candidate);
    };
    this.onEncodings = (e) => this.setEncodings(e.detail.track_id, e.detail.active);
    this.sig.addEventListener('publish_answer', this.onAnswer);
    this.sig.addEventListener('candidate', this.onCandidate);
    this.sig.addEventListener('set_encodings', this.onEncodings);
  }

  /** Adds tracks ([{ track, source }], source being camera, microphone or screen) and
   *  renegotiates once. Returns their msids (the track ids in our offer, which Firefox does
   *  not take from the MediaStreamTrack), in order. */
  async add(list) {
    const ids = [];
    for (const { track, source } of list) {
      const simulcast = this.simulcast && track.kind === 'video' && source === 'camera';
      let sender;
      let transceiver;
      if (simulcast) {
        transceiver = this.pc.addTransceiver(track, {
          direction: 'sendonly',
          streams: [new MediaStream([track])],
          sendEncodings: CAMERA_LAYERS.map((l) => ({ ...l })),
        });
        sender = transceiver.sender;
      } else {
        sender = this.pc.addTrack(track, new MediaStream([track]));
        transceiver = this.pc.getTransceivers().find((t) => t.sender === sender);
      }
      if (track.kind === 'video' && transceiver) preferCodecs(transceiver);
      const meta = { track_id: track.id, source, muted: false };
      if (simulcast) meta.layers = declaredLayers(track);
      this.meta.set(track.id, meta);
      this.senders.set(track.id, sender);
      ids.push(track.id);
    }
    if (ids.length) await this.negotiate();
    const msids = ids.map((id) => this.rekeyed.get(id) ?? id);
    for (const [i, { source }] of list.entries()) {
      if (source === 'screen') await keepResolution(this.senders.get(msids[i]));
    }
    return msids;
  }

  /** Replaces what a published track sends (null sends nothing), without renegotiating. */
  async replace(msid, track) {
    const sender = this.senders.get(msid);
    if (sender) await sender.replaceTrack(track);
  }

  /** Dynacast: encodes only the layers the server marks active (by our declared order). */
  async setEncodings(msid, active) {
    const sender = this.senders.get(msid);
    const layers = this.meta.get(msid)?.layers;
    if (!sender || !layers || !Array.isArray(active)) return;
    const params = sender.getParameters();
    let changed = false;
    for (const enc of params.encodings ?? []) {
      const i = layers.findIndex((l) => l.rid === enc.rid);
      if (i < 0 || typeof active[i] !== 'boolean' || enc.active === active[i]) continue;
      enc.active = active[i];
      changed = true;
    }
    if (changed) await sender.setParameters(params).catch(() => {});
  }

  setMuted(msid, muted) {
    const m = this.meta.get(msid);
    if (m) m.muted = muted;
    this.sig.send({ type: 'mute', track_id: msid, muted });
  }

  /** Stops publishing a track and tells the server. */
  async remove(msid) {
    const sender = this.senders.get(msid);
    this.sig.send({ type: 'unpublish', track_id: msid });
    this.meta.delete(msid);
    this.senders.delete(msid);
    if (sender) {
      this.pc.removeTrack(sender);
      await this.negotiate();
    }
  }

  /** Restarts ICE: an offer with new credentials, on the same connection and tracks. */
  restartIce() {
    if (!this.pc.remoteDescription) return;
    this.pc.restartIce();
    this.negotiate().catch(() => {});
  }

  negotiate() {
    const run = this.chain.then(() => this.negotiateNow());
    this.chain = run.catch(() => {});
    return run;
  }

  /** Keys each track by the id our description `sdp` gives it, and tells the server that. */
  rekey(sdp) {
    for (const [key, sender] of [...this.senders]) {
      const mid = this.pc.getTransceivers().find((t) => t.sender === sender)?.mid;
      const msid = mid == null ? null : msidTrackOf(sdp, mid);
      if (!msid || msid === key) continue;
      const meta = this.meta.get(key);
      this.senders.delete(key);
      this.meta.delete(key);
      this.senders.set(msid, sender);
      if (meta) this.meta.set(msid, { ...meta, track_id: msid });
      this.rekeyed.set(key, msid);
    }
  }

  async negotiateNow() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.rekey(this.pc.localDescription?.sdp ?? offer.sdp);
    const answered = new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      setTimeout(() => reject(new Error('no publish answer')), 10000);
    });
    this.sig.send({ type: 'publish_offer', sdp: offer.sdp, tracks: [...this.meta.values()] });
    mark('publish-offer');
    await answered;
  }

  close() {
    this.sig.removeEventListener('publish_answer', this.onAnswer);
    this.sig.removeEventListener('candidate', this.onCandidate);
    this.sig.removeEventListener('set_encodings', this.onEncodings);
    this.pc.close();
  }
}

export class Subscriber {
  /** onTrack(track, participantId) is called for every remote track; onState as for the
   *  Publisher. */
  constructor(signaling, onTrack, onState) {
    this.sig = signaling;
    this.pc = new RTCPeerConnection();
    watchConnection(this.pc, 'subscribe');
    this.queue = new CandidateQueue(this.pc);
    this.chain = Promise.resolve();
    this.pc.addEventListener('track', (e) => {
      mark('first-track');
      if (e.track.kind === 'video') watchFirstRtp(this.pc);
      onTrack(e.track, e.streams[0]?.id ?? '');
    });
    this.pc.addEventListener('icecandidate', (e) => {
      if (e.candidate) this.sig.send({ type: 'candidate', target: 'subscribe', candidate: e.candidate.toJSON() });
    });
    this.pc.addEventListener('connectionstatechange', () => onState?.(this.pc.connectionState));
    this.onOffer = (e) => {
      mark('subscribe-offer');
      this.chain = this.chain.then(() => this.answer(e.detail.sdp)).catch(() => {});
    };
    this.onCandidate = (e) => {
      if (e.detail.target === 'subscribe') this.queue.add(e.detail.candidate);
    };
    this.sig.addEventListener('subscribe_offer', this.onOffer);
    this.sig.addEventListener('candidate', this.onCandidate);
  }

  /** Asks the server, which offers this connection, for an offer with new ICE credentials. */
  restartIce() {
    if (this.pc.remoteDescription) this.sig.send({ type: 'restart_ice' });
  }

  async answer(sdp) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    await this.queue.flush();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.sig.send({ type: 'subscribe_answer', sdp: answer.sdp });
    mark('subscribe-answer');
  }

  close() {
    this.sig.removeEventListener('subscribe_offer', this.onOffer);
    this.sig.removeEventListener('candidate', this.onCandidate);
    this.pc.close();
  }
}
