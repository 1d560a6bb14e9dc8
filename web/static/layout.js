// What this page shows of each remote video, told to the server as `layout` (docs/protocol.md):
// a video scrolled out of view, hidden or shrunk to nothing is sent nothing (and resumes within
// a keyframe when shown again), and its rendered size chooses the quality from a publisher that
// sends several. One IntersectionObserver and one ResizeObserver watch every video; changes
// settle for a moment and go together, and only what changed is sent.

const SETTLE_MS = 200;

/** Device pixels of an observed box. */
function deviceSize(entry) {
  const ratio = window.devicePixelRatio || 1;
  return {
    width: Math.round(entry.contentRect.width * ratio),
    height: Math.round(entry.contentRect.height * ratio),
  };
}

export class Layout {
  /** send(tracks) sends one `layout` message with these entries. */
  constructor(send) {
    this.send = send;
    this.views = new Map(); // server track id -> { el, intersecting, width, height, sized }
    this.told = new Map(); // server track id -> what the server was last told, as JSON
    this.timer = null;
    this.io = typeof IntersectionObserver === 'function'
      ? new IntersectionObserver((entries) => {
        for (const e of entries) this.update(e.target, { intersecting: e.isIntersecting });
      })
      : null;
    this.ro = typeof ResizeObserver === 'function'
      ? new ResizeObserver((entries) => {
        for (const e of entries) this.update(e.target, { ...deviceSize(e), sized: true });
      })
      : null;
  }

  /** Reports on `el`, the video element showing the remote track `trackId`. */
  watch(trackId, el) {
    const old = this.views.get(trackId);
    if (old?.el === el) return;
    if (old) this.stopObserving(old.el);
    el.dataset.layoutTrack = trackId;
    this.views.set(trackId, { el, intersecting: true, width: 0, height: 0, sized: false });
    this.io?.observe(el);
    this.ro?.observe(el);
  }

  /** The track is gone, or no longer shown in `el`. */
  unwatch(trackId) {
    const v = this.views.get(trackId);
    if (!v) return;
    this.stopObserving(v.el);
    this.views.delete(trackId);
    this.told.delete(trackId);
  }

  stopObserving(el) {
    this.io?.unobserve(el);
    this.ro?.unobserve(el);
    delete el.dataset.layoutTrack;
  }

  update(el, change) {
    const v = this.views.get(el.dataset.layoutTrack);
    if (!v || v.el !== el) return;
    Object.assign(v, change);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush();
    }, SETTLE_MS);
  }

  /** Sends what changed since the server was last told. */
  flush() {
    const tracks = [];
    for (const [id, v] of this.views) {
      const empty = v.sized && (v.width === 0 || v.height === 0);
      const visible = v.intersecting && !empty;
      const entry = visible
        ? { track_id: id, visible, width: v.width, height: v.height }
        : { track_id: id, visible };
      const json = JSON.stringify(entry);
      if (this.told.get(id) === json) continue;
      tracks.push(entry);
      this.told.set(id, json);
    }
    if (tracks.length) this.send(tracks);
  }

  close() {
    clearTimeout(this.timer);
    this.timer = null;
    this.io?.disconnect();
    this.ro?.disconnect();
    this.views.clear();
    this.told.clear();
  }
}
