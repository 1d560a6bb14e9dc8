// ICE restart in place (docs/protocol.md, "Network changes"). When the network changes, or a
// peer connection loses its path, both connections restart ICE within the same session: the
// same participant, the same tracks, no rejoin. Only if that brings nothing back within
// GRACE_MS does the page rejoin from scratch.

const GRACE_MS = 10000;
// Both connections report trouble at once: one restart serves both.
const QUIET_MS = 3000;
// A network change fires several events together (online, and the connection's change).
const SAME_CHANGE_MS = 1000;

export class IceRecovery {
  /** pub and sub: the Publisher and Subscriber; rejoin(): the full reconnection;
   *  banner(text|null): what the call shows meanwhile. */
  constructor(pub, sub, rejoin, banner) {
    Object.assign(this, { pub, sub, rejoin, banner });
    this.at = 0;
    this.timer = null;
    this.closed = false;
    this.onNetwork = () => this.restart(true);
    window.addEventListener('online', this.onNetwork);
    navigator.connection?.addEventListener?.('change', this.onNetwork);
  }

  /** A connection's state changed (connectionState). */
  state(s) {
    if (s === 'disconnected' || s === 'failed') this.restart(false);
    else if (s === 'connected' && this.timer && this.up()) this.recovered();
  }

  /** Whether both connections carry media (one never negotiated has nothing to carry yet). */
  up() {
    const ok = (pc) => pc.connectionState === 'connected' || (!pc.remoteDescription && pc.connectionState === 'new');
    return ok(this.pub.pc) && ok(this.sub.pc);
  }

  /** Restarts ICE on both connections; `force` for a network change, which makes any restart
   *  still under way stale. */
  restart(force) {
    if (this.closed) return;
    // Offline, a restart could reach nothing: the `online` event restarts.
    if (navigator.onLine === false) return;
    const now = Date.now();
    if (now - this.at < (force ? SAME_CHANGE_MS : QUIET_MS)) return;
    this.at = now;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closed && !this.up()) this.rejoin();
    }, GRACE_MS);
    this.banner('Reconnecting…');
    this.pub.restartIce();
    this.sub.restartIce();
  }

  recovered() {
    clearTimeout(this.timer);
    this.timer = null;
    this.banner(null);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onNetwork);
    navigator.connection?.removeEventListener?.('change', this.onNetwork);
  }
}
