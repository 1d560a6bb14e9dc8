// The call screen: a grid of participant tiles, the controls, the participants panel, the
// keyboard-shortcut help, and the reconnection banner. All names enter as text.

import { el, $, initials, announce } from './dom.js';
import { Layout } from './layout.js';
import { Grid, pageSize } from './grid.js';
import { watchFirstFrame } from './timeline.js';

const SCREEN_SOURCES = new Set(['screen', 'screen_audio']);

const QUALITY_TEXT = { good: 'Connection good', fair: 'Connection unstable', poor: 'Connection poor' };
const QUALITY_BARS = { good: 3, fair: 2, poor: 1 };

/** A connection-quality indicator: three bars, lit by grade, and the grade as text. */
function qualityIndicator() {
  return el('span', { class: 'quality', 'data-quality': 'good', role: 'img', 'aria-label': QUALITY_TEXT.good, title: QUALITY_TEXT.good },
    el('span', { class: 'bar' }), el('span', { class: 'bar' }), el('span', { class: 'bar' }));
}

function setQuality(indicator, grade) {
  const g = QUALITY_TEXT[grade] ? grade : 'good';
  indicator.dataset.quality = g;
  indicator.setAttribute('aria-label', QUALITY_TEXT[g]);
  indicator.title = QUALITY_TEXT[g];
  [...indicator.children].forEach((bar, i) => bar.classList.toggle('lit', i < QUALITY_BARS[g]));
}

/** A participant's tile: video, or initials when there is none; name; muted microphone; how
 * their connection looks. */
function makeTile(id, name, kind, self, grade = 'good') {
  const video = el('video', { autoplay: true, playsinline: true, muted: self || kind === 'screen' });
  const quality = qualityIndicator();
  setQuality(quality, grade);
  const tile = el('figure', { class: `tile ${kind}`, 'data-participant': id, 'data-kind': kind },
    video,
    el('div', { class: 'avatar', 'aria-hidden': 'true' }, initials(name)),
    el('figcaption', {},
      el('span', { class: 'name' }, kind === 'screen' ? `${name} (screen)` : self ? `${name} (you)` : name),
      el('span', { class: 'mic-off', hidden: true }, 'Microphone off'),
      el('span', { class: 'speaking-label', hidden: true }, 'Speaking'),
      quality,
      // Anyone else's camera can be pinned on the stage.
      self || kind === 'screen' ? null
        : el('button', { type: 'button', class: 'pin', 'aria-pressed': 'false', 'aria-label': `Pin ${name}` }, 'Pin')));
  return { tile, video };
}

/** What to tell this participant about their own connection, if anything. */
function ownConnectionNotice(uplink, downlink) {
  if (uplink === 'poor') return 'Your connection is struggling: others may not see or hear you well.';
  if (downlink === 'poor') return 'Your connection is struggling: others\u2019 video and sound may break up.';
  if (uplink === 'fair') return 'Your connection is unstable: others may see you in lower quality.';
  if (downlink === 'fair') return 'Your connection is slow: some videos are shown in lower quality or paused.';
  return '';
}

export class Call {
  constructor(root, handlers) {
    this.root = root;
    this.h = handlers;
    this.people = new Map();
    this.selfId = null;
    this.speaking = new Set(); // participant ids the server hears speaking
    this.uplinks = new Map(); // participant id -> the grade of their uplink, as last told
    // What we show of each remote video goes to the server (hidden ones are sent nothing).
    this.layout = new Layout((tracks) => this.h.layout?.(tracks));
    this.build();
    // At most a page of tiles shows; the rest are hidden, and so sent nothing.
    this.arrangement = new Grid($('#grid', this.root), $('#pager', this.root));
    this.arrangement.source(() => [...this.people.values()]);
    this.onResize = () => {
      const size = pageSize();
      if (size === this.arrangement.size) return;
      this.arrangement.size = size;
      this.arrangement.arrange();
    };
    addEventListener('resize', this.onResize);
  }

  build() {
    const button = (id, label, key, pressed) => el('button', {
      type: 'button', id, 'aria-keyshortcuts': key, 'aria-pressed': pressed === undefined ? null : String(pressed),
    }, label);
    this.root.replaceChildren(
      el('div', { id: 'banner', class: 'banner', role: 'alert', hidden: true }),
      el('p', { id: 'connection-notice', class: 'notice', role: 'status', hidden: true }),
      el('div', { class: 'stage' },
        el('div', { class: 'grid-column' },
          el('section', { id: 'grid', class: 'grid', 'aria-label': 'Participants\u2019 video' }),
          el('nav', { id: 'pager', class: 'pager', 'aria-label': 'Pages of participants', hidden: true })),
        el('aside', { id: 'participants-panel', class: 'panel', hidden: true, 'aria-label': 'Participants' },
          el('h2', {}, 'Participants'), el('ul', { id: 'participant-list' })),
        el('aside', { id: 'chat-panel', class: 'panel', hidden: true, 'aria-label': 'Chat' }),
        el('aside', { id: 'notes-panel', class: 'panel side-notes', hidden: true, 'aria-label': 'Notes' }),
        el('aside', { id: 'board-panel', class: 'panel side-board', hidden: true, 'aria-label': 'Board' }),
        el('aside', { id: 'meetings-panel', class: 'panel side-meetings', hidden: true, 'aria-label': 'Meetings' })),
      el('nav', { class: 'controls', 'aria-label': 'Call controls' },
        button('toggle-mic', 'Microphone', 'M', true),
        button('toggle-cam', 'Camera', 'V', true),
        button('toggle-share', 'Share screen', 'S', false),
        button('toggle-participants', 'Participants', 'P', false),
        el('button', { type: 'button', id: 'toggle-chat', 'aria-keyshortcuts': 'C', 'aria-pressed': 'false' },
          'Chat', el('span', { id: 'unread', class: 'badge', hidden: true })),
        el('button', { type: 'button', id: 'toggle-notes', 'aria-keyshortcuts': 'N', 'aria-pressed': 'false', hidden: true }, 'Notes'),
        el('button', { type: 'button', id: 'toggle-board', 'aria-keyshortcuts': 'B', 'aria-pressed': 'false', hidden: true }, 'Board'),
        el('button', { type: 'button', id: 'toggle-meetings', 'aria-pressed': 'false', hidden: true }, 'Meetings'),
        button('show-help', 'Shortcuts', '?'),
        el('button', { type: 'button', id: 'leave', class: 'danger' }, 'Leave')),
      el('div', { id: 'audio-sinks', hidden: true }),
      el('dialog', { id: 'help', 'aria-labelledby': 'help-title' },
        el('h2', { id: 'help-title' }, 'Keyboard shortcuts'),
        el('dl', {},
          ...[['M', 'Microphone on or off'], ['V', 'Camera on or off'], ['S', 'Share your screen'],
            ['P', 'Participants list'], ['C', 'Chat'], ['N', 'The room\u2019s shared notes'], ['B', 'The room\u2019s board'], ['?', 'This help'], ['Esc', 'Close this dialog']]
            .flatMap(([k, d]) => [el('dt', {}, el('kbd', {}, k)), el('dd', {}, d)])),
        el('button', { type: 'button', id: 'close-help' }, 'Close')),
    );
    const on = (id, fn) => $(`#${id}`, this.root).addEventListener('click', fn);
    on('toggle-mic', () => this.h.toggleMic());
    on('toggle-cam', () => this.h.toggleCam());
    on('toggle-share', () => this.h.toggleShare());
    on('toggle-participants', () => this.togglePanel('participants'));
    on('toggle-chat', () => this.togglePanel('chat'));
    on('toggle-notes', () => this.togglePanel('notes'));
    on('toggle-board', () => this.togglePanel('board'));
    on('toggle-meetings', () => this.togglePanel('meetings'));
    on('show-help', () => $('#help', this.root).showModal());
    on('close-help', () => $('#help', this.root).close());
    on('leave', () => this.h.leave());
    this.onKey = (e) => this.key(e);
    document.addEventListener('keydown', this.onKey);
  }

  key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest?.('input, textarea, select, [contenteditable]')) return;
    const k = e.key.toLowerCase();
    const act = { m: 'toggle-mic', v: 'toggle-cam', s: 'toggle-share', p: 'toggle-participants', c: 'toggle-chat', n: 'toggle-notes', b: 'toggle-board', '?': 'show-help' }[k];
    if (act && !$(`#${act}`, this.root).hidden) {
      e.preventDefault();
      $(`#${act}`, this.root).click();
    }
  }

  togglePanel(which) {
    const panel = $(`#${which}-panel`, this.root);
    panel.hidden = !panel.hidden;
    $(`#toggle-${which}`, this.root).setAttribute('aria-pressed', String(!panel.hidden));
    if (which === 'chat') this.h.chatVisible(!panel.hidden);
    if (!panel.hidden) this.h.panelShown?.(which);
  }

  /** The side panels of a stored room (its notes, board and meetings), or none for an ad hoc room. */
  showRoomPanels(on) {
    for (const id of ['toggle-notes', 'toggle-board', 'toggle-meetings']) $(`#${id}`, this.root).hidden = !on;
  }

  panel(which) {
    return $(`#${which}-panel`, this.root);
  }

  get chatPanel() {
    return $('#chat-panel', this.root);
  }

  setPressed(id, on) {
    $(`#${id}`, this.root)?.setAttribute('aria-pressed', String(on));
  }

  /** Starts over from a `joined` message (also after a reconnection). */
  reset(joined, selfName) {
    for (const id of [...this.people.keys()]) this.removeParticipant(id);
    this.selfId = joined.participant_id;
    this.addParticipant({ id: joined.participant_id, name: selfName, tracks: [] }, true);
    for (const p of joined.participants) this.addParticipant(p);
  }

  addParticipant(info, self = false) {
    if (this.people.has(info.id)) return;
    const cam = makeTile(info.id, info.name, 'camera', self, this.uplinks.get(info.id));
    const person = { id: info.id, name: info.name, self, cam, tracks: new Map(), screens: new Map(), audio: new Map() };
    this.people.set(info.id, person);
    $('#grid', this.root).append(cam.tile);
    cam.tile.querySelector('.pin')?.addEventListener('click', () => {
      this.arrangement.pin(info.id);
      this.arrangement.arrange();
    });
    if (!self) this.arrangement.joined(info.id);
    this.arrangement.arrange();
    for (const t of info.tracks) person.tracks.set(t.id, t);
    this.refresh(person);
    this.renderList();
    if (!self) announce(`${info.name} joined`);
  }

  removeParticipant(id) {
    const p = this.people.get(id);
    if (!p) return;
    p.cam.tile.remove();
    for (const s of p.screens.values()) s.tile.remove();
    for (const a of p.audio.values()) a.remove();
    for (const tid of p.tracks.keys()) this.layout.unwatch(tid);
    this.people.delete(id);
    this.arrangement.left(id);
    this.arrangement.arrange();
    this.renderList();
    if (!p.self) announce(`${p.name} left`);
  }

  trackPublished(pid, track) {
    const p = this.people.get(pid);
    if (!p) return;
    p.tracks.set(track.id, track);
    this.refresh(p);
  }

  trackUnpublished(pid, tid) {
    const p = this.people.get(pid);
    if (!p) return;
    p.tracks.delete(tid);
    this.layout.unwatch(tid);
    p.screens.get(tid)?.tile.remove();
    p.screens.delete(tid);
    this.arrangement.arrange();
    p.audio.get(tid)?.remove();
    p.audio.delete(tid);
    if (p.camTrackId === tid) {
      p.cam.video.srcObject = null;
      p.camTrackId = null;
    }
    this.refresh(p);
  }

  trackMuted(pid, tid, muted) {
    const p = this.people.get(pid);
    const t = p?.tracks.get(tid);
    if (!t) return;
    t.muted = muted;
    this.refresh(p);
  }

  /** A remote media track arrived on the subscribe connection. */
  attach(track, pid) {
    const p = this.people.get(pid);
    if (!p) return;
    const info = p.tracks.get(track.id) ?? { id: track.id, kind: track.kind, source: 'unknown', muted: false };
    p.tracks.set(track.id, info);
    const stream = new MediaStream([track]);
    if (track.kind === 'audio') {
      const sink = el('audio', { autoplay: true, 'data-participant': pid });
      sink.srcObject = stream;
      $('#audio-sinks', this.root).append(sink);
      p.audio.set(track.id, sink);
    } else if (SCREEN_SOURCES.has(info.source)) {
      const screen = makeTile(`${pid}`, p.name, 'screen', false, this.uplinks.get(pid));
      screen.video.srcObject = stream;
      watchFirstFrame(screen.video);
      p.screens.set(track.id, screen);
      p.cam.tile.after(screen.tile);
      this.arrangement.arrange();
      this.layout.watch(track.id, screen.video);
    } else {
      if (p.camTrackId && p.camTrackId !== track.id) this.layout.unwatch(p.camTrackId);
      p.cam.video.srcObject = stream;
      watchFirstFrame(p.cam.video);
      p.camTrackId = track.id;
      this.layout.watch(track.id, p.cam.video);
    }
    track.addEventListener('ended', () => this.trackUnpublished(pid, track.id));
    this.refresh(p);
  }

  /** Our own camera, microphone and screen state. */
  setLocal({ cam, micOn, camOn, screen }) {
    const p = this.people.get(this.selfId);
    if (!p) return;
    p.cam.video.srcObject = cam && camOn ? new MediaStream([cam]) : null;
    p.localMicOn = micOn;
    p.localCamOn = Boolean(cam && camOn);
    for (const s of p.screens.values()) s.tile.remove();
    p.screens.clear();
    if (screen) {
      const tile = makeTile(this.selfId, p.name, 'screen', true, this.uplinks.get(this.selfId));
      tile.video.srcObject = new MediaStream([screen]);
      p.screens.set('local-screen', tile);
      p.cam.tile.after(tile.tile);
    }
    this.arrangement.arrange();
    this.setPressed('toggle-mic', micOn);
    this.setPressed('toggle-cam', camOn);
    this.setPressed('toggle-share', Boolean(screen));
    this.refresh(p);
  }

  refresh(p) {
    let camOn;
    let micOn;
    if (p.self) {
      camOn = p.localCamOn;
      micOn = p.localMicOn;
    } else {
      const tracks = [...p.tracks.values()];
      camOn = tracks.some((t) => t.kind === 'video' && !SCREEN_SOURCES.has(t.source) && !t.muted);
      micOn = tracks.some((t) => t.kind === 'audio' && !SCREEN_SOURCES.has(t.source) && !t.muted);
    }
    p.cam.tile.classList.toggle('no-video', !camOn);
    p.cam.tile.querySelector('.mic-off').hidden = Boolean(micOn);
    p.micOn = Boolean(micOn);
    this.renderList();
  }

  renderList() {
    const list = $('#participant-list', this.root);
    if (!list) return;
    list.replaceChildren(...[...this.people.values()].map((p) => el('li', {},
      el('span', {}, p.self ? `${p.name} (you)` : p.name),
      p.micOn ? null : el('span', { class: 'mic-off' }, ' Microphone off'),
      this.speaking.has(p.id) ? el('span', { class: 'speaking-label' }, ' Speaking') : null)));
  }

  /** Who the server hears speaking, loudest first (`active_speakers`): their tiles are
   * outlined and say so, as does the participants list. */
  setSpeakers(ids) {
    this.speaking = new Set(ids);
    this.arrangement.speaking(ids);
    this.arrangement.arrange();
    for (const p of this.people.values()) {
      const on = this.speaking.has(p.id);
      p.cam.tile.classList.toggle('speaking', on);
      p.cam.tile.querySelector('.speaking-label').hidden = !on;
    }
    this.renderList();
  }

  /** Each participant's connection grades (`connection_quality`): their uplink on their
   * tiles (what everyone sees of them), and a notice when one's own is not good. */
  setQuality(participants) {
    this.uplinks = new Map(participants.map((q) => [q.participant_id, q.uplink]));
    for (const q of participants) {
      const p = this.people.get(q.participant_id);
      if (!p) continue;
      for (const t of [p.cam, ...p.screens.values()]) {
        const indicator = t?.tile.querySelector('.quality');
        if (indicator) setQuality(indicator, q.uplink);
      }
      if (p.self) {
        const notice = $('#connection-notice', this.root);
        const text = ownConnectionNotice(q.uplink, q.downlink);
        if (notice.textContent !== text) notice.textContent = text;
        notice.hidden = !text;
      }
    }
  }

  banner(text, rejoin) {
    const b = $('#banner', this.root);
    if (!text) {
      b.hidden = true;
      b.replaceChildren();
      return;
    }
    b.hidden = false;
    b.replaceChildren(el('span', {}, text));
    if (rejoin) {
      const btn = el('button', { type: 'button', id: 'rejoin' }, 'Rejoin');
      btn.addEventListener('click', rejoin);
      b.append(' ', btn);
    }
  }

  destroy() {
    document.removeEventListener('keydown', this.onKey);
    removeEventListener('resize', this.onResize);
    this.layout.close();
  }
}
