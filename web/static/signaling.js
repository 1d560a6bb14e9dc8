// The signaling WebSocket: JSON messages of docs/protocol.md, as DOM events.
// Emits one event per server message type (detail = the message), and 'closed' with
// { code, reason, wasClean } when the socket ends for any reason other than close().

export const PROTOCOL_VERSION = 1;

export class Signaling extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.closing = false;
    this.pingTimer = null;
  }

  /** Opens the socket; rejects if the server cannot be reached. */
  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.addEventListener('open', () => {
        opened = true;
        this.pingTimer = setInterval(() => this.send({ type: 'ping', ts: Date.now() }), 10000);
        resolve();
      });
      ws.addEventListener('message', (e) => {
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch {
          return;
        }
        this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
      });
      ws.addEventListener('close', (e) => {
        clearInterval(this.pingTimer);
        if (!opened) {
          reject(new Error('the server cannot be reached'));
          return;
        }
        if (!this.closing) {
          this.dispatchEvent(new CustomEvent('closed', {
            detail: { code: e.code, reason: e.reason, wasClean: e.wasClean },
          }));
        }
      });
    });
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  /** Waits for the first of the given message types; resolves with { type, msg }. */
  next(types, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const handlers = [];
      const done = () => handlers.forEach(([t, h]) => this.removeEventListener(t, h));
      const timer = setTimeout(() => { done(); reject(new Error('the server did not answer')); }, timeoutMs);
      for (const type of [...types, 'closed']) {
        const h = (e) => {
          clearTimeout(timer);
          done();
          if (type === 'closed') reject(new Error('the connection closed'));
          else resolve({ type, msg: e.detail });
        };
        handlers.push([type, h]);
        this.addEventListener(type, h);
      }
    });
  }

  /** Closes on purpose; no 'closed' event follows. */
  close() {
    this.closing = true;
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000);
  }
}
