// One shared-notes document, kept in sync with the server over its own WebSocket: a yjs document
// and its presence (awareness), in y-websocket's framing (docs/protocol.md, "Shared notes").
//
// - Local edits are sent as updates, merged over FLUSH_MS so that fast typing stays well under
//   the server's edit rate. While the connection is down they wait in the document itself, and
//   the step 2 that answers the server's step 1 on reconnection carries them: nothing typed
//   offline is lost.
// - "Saved" is known, not hoped: after sending edits the page sends a sync step 1, and the
//   server answers it (with a step 2) only after it has kept everything sent before it.
// - The page may edit only once it has the step 2 that answers its own first step 1, so that
//   its first insert never lands before text it has not seen yet.

import * as Y from 'yjs';
import * as sync from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';

const SYNC = 0;
const AWARENESS = 1;
const AUTH = 2;
const QUERY_AWARENESS = 3;
/** Local edits are merged into one update at most this often (the server allows 30 a second). */
const FLUSH_MS = 80;
/** Presence (cursor moves) is sent at most this often: the latest state, once the time is up. */
const PRESENCE_MS = 100;
/** The server refuses frames larger than this by default (--notes-frame-kb). */
export const MAX_FRAME = 256 * 1024;
export const TEXT = 'content';

/**
 * Events: 'state' (detail: this.state()), 'denied' (detail: the reason), 'reset' (the document
 * was replaced by the server's: rebind to this.doc), 'presence'.
 */
export class NotesSync extends EventTarget {
  /** `url`: the document's ws(s):// address; `probe`: its http(s) twin, to learn why a connection is refused. */
  constructor(url, probe) {
    super();
    Object.assign(this, { url, probe });
    this.closed = false;
    this.delay = 500;
    this.ws = null;
    this.presenceAt = 0;
    this.presenceTimer = null;
    this.problem = null; // 'gone' once the link no longer opens the document
    this.fresh();
    this.connect();
  }

  /** A new, empty document: at the start, and after the server refused what this one holds. */
  fresh() {
    this.awareness?.destroy();
    this.doc?.destroy();
    this.doc = new Y.Doc();
    this.text = this.doc.getText(TEXT);
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    this.synced = false; // has had the step 2 answering its first step 1
    this.pending = []; // local updates not sent yet
    this.acks = 0; // step 1s sent after edits whose step 2 has not come back
    this.dirty = false; // edits the server has not confirmed keeping
    this.readOnly = false;
    this.doc.on('update', (update, origin) => {
      if (origin !== this) this.local(update);
    });
    this.awareness.on('update', ({ added, updated, removed }, origin) => {
      if (origin !== this && [...added, ...updated, ...removed].includes(this.doc.clientID)) {
        this.sendAwareness();
      }
      this.dispatchEvent(new Event('presence'));
    });
  }

  /** What the page shows: 'connecting', 'saving', 'saved', 'offline' or 'gone'. */
  state() {
    if (this.problem === 'gone') return 'gone';
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return this.synced ? 'offline' : 'connecting';
    if (!this.synced) return 'connecting';
    return this.pending.length || this.acks || this.flushTimer ? 'saving' : 'saved';
  }

  emit() {
    this.dispatchEvent(new CustomEvent('state', { detail: this.state() }));
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      this.delay = 500;
      this.acks = 1; // the first step 1's answer
      this.send(this.step1());
      if (this.awareness.getLocalState() !== null) this.sendAwareness();
      this.emit();
    });
    ws.addEventListener('message', (e) => this.receive(new Uint8Array(e.data)));
    ws.addEventListener('close', (e) => {
      if (this.ws === ws) this.lost(e, opened);
    });
    this.emit();
  }

  async lost(e, opened) {
    this.ws = null;
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    // Everyone else's presence went with the connection; it comes back with the next one.
    const others = [...this.awareness.getStates().keys()].filter((c) => c !== this.doc.clientID);
    awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
    this.acks = 0;
    if (e.code === 1008 && /revoked/.test(e.reason)) return this.gone();
    if (!opened && this.probe) {
      // The upgrade was refused: ask the plain address why, and stop if the link is not good.
      const status = await fetch(this.probe).then((r) => r.status, () => 0);
      if ([401, 403, 404, 422].includes(status)) return this.gone();
    }
    if (e.code === 1009 || e.code === 1007) {
      // Our edit was too large, or unreadable to the server: it cannot be kept. Take the
      // server's document again rather than keep text nobody else has.
      this.reset(e.code === 1009 ? 'too-big' : 'refused');
    }
    this.emit();
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, 8000);
    this.retry = setTimeout(() => this.connect(), wait);
  }

  /** Starts again from the server's document; `why` goes with the 'reset' event. */
  reset(why) {
    this.fresh();
    this.dispatchEvent(new CustomEvent('reset', { detail: why }));
  }

  gone() {
    this.problem = 'gone';
    this.emit();
  }

  step1() {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, SYNC);
    sync.writeSyncStep1(e, this.doc);
    return encoding.toUint8Array(e);
  }

  send(bytes) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  /** Sends this page's presence, at most every PRESENCE_MS (the server limits its rate). */
  sendAwareness() {
    const wait = this.presenceAt + PRESENCE_MS - Date.now();
    if (wait > 0) {
      this.presenceTimer ??= setTimeout(() => {
        this.presenceTimer = null;
        this.sendAwareness();
      }, wait);
      return;
    }
    this.presenceAt = Date.now();
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, AWARENESS);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]));
    this.send(encoding.toUint8Array(e));
  }

  local(update) {
    this.dirty = true;
    this.pending.push(update);
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
    this.emit();
  }

  flush() {
    this.flushTimer = null;
    // Not connected, or not synced yet: the step 2 of the next sync carries these edits.
    if (!this.synced || this.ws?.readyState !== WebSocket.OPEN) return;
    if (!this.pending.length) return;
    const update = Y.mergeUpdates(this.pending);
    this.pending = [];
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, SYNC);
    sync.writeUpdate(e, update);
    this.send(encoding.toUint8Array(e));
    this.confirm();
  }

  /** Asks the server to answer once it has kept everything sent so far. */
  confirm() {
    this.acks += 1;
    this.send(this.step1());
    this.emit();
  }

  receive(bytes) {
    let d;
    let type;
    try {
      d = decoding.createDecoder(bytes);
      type = decoding.readVarUint(d);
    } catch {
      return;
    }
    if (type === SYNC) {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, SYNC);
      const kind = sync.readSyncMessage(d, e, this.doc, this);
      if (kind === sync.messageYjsSyncStep1) {
        // What the server lacks: edits made offline, or before the connection opened.
        this.pending = [];
        this.send(encoding.toUint8Array(e));
        if (!this.readOnly) this.confirm();
      } else if (kind === sync.messageYjsSyncStep2) {
        this.acks = Math.max(0, this.acks - 1);
        this.synced = true;
        if (!this.acks && !this.pending.length) this.dirty = false;
        this.flush();
        this.emit();
      }
    } else if (type === AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(d), this);
    } else if (type === AUTH) {
      if (decoding.readVarUint(d) !== 0) return; // 0: denied
      const reason = decoding.readVarString(d);
      if (reason === 'read-only') {
        this.readOnly = true;
      } else if (reason === 'the document is full') {
        // The edit was not kept: show the server's document again, over a new connection.
        const ws = this.ws;
        this.ws = null;
        ws?.close(1000, 'starting again from the server\u2019s document');
        this.reset('full');
        this.connect();
      }
      this.dispatchEvent(new CustomEvent('denied', { detail: reason }));
      this.emit();
    } else if (type === QUERY_AWARENESS) {
      this.sendAwareness();
    }
  }

  /** Who is in the document: [{ clientId, name, color, self }]. */
  people() {
    return [...this.awareness.getStates().entries()]
      .filter(([, s]) => s?.user?.name)
      .map(([clientId, s]) => ({ clientId, name: String(s.user.name), color: s.user.color, self: clientId === this.doc.clientID }));
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    clearTimeout(this.flushTimer);
    clearTimeout(this.presenceTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'closed');
    this.awareness.destroy();
    this.doc.destroy();
  }
}
