// A room's shared notes, on its home page (the Notes tab) and beside the call (a side panel):
// the standing "Room notes", the minutes of the meeting now or next, and, for hosts, the
// template new minutes start from. Plain-text Markdown, edited together (notes-sync.js, with
// y-textarea's binding showing everyone's cursor and name), a rendered preview (markdown.js),
// who is in the document, and whether the page's edits are kept.

import * as Y from 'yjs';
import { TextAreaBinding } from 'y-textarea';
import { el, announce } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { NotesSync } from './notes-sync.js';

// Dark enough for white name tags to pass WCAG AA (4.5:1) on each.
const COLORS = [
  { r: 31, g: 84, b: 170 }, { r: 136, g: 33, b: 122 }, { r: 0, g: 105, b: 92 },
  { r: 160, g: 56, b: 0 }, { r: 94, g: 53, b: 177 }, { r: 46, g: 109, b: 50 },
  { r: 173, g: 20, b: 87 }, { r: 84, g: 84, b: 84 },
];

const STATES = {
  connecting: 'Connecting…',
  saving: 'Saving…',
  saved: 'Saved',
  offline: 'Offline: your edits are kept here and will sync when the connection is back',
  gone: 'This link no longer opens the notes. Ask the organiser for a new one.',
};

const RESETS = {
  full: 'The document is full, so your last edit was not kept.',
  'too-big': 'That edit was too large to send at once (paste less at a time), so it was not kept.',
  refused: 'The server could not read your last edit, so it was not kept.',
};

const meetingLabel = (iso) => new Date(Date.parse(iso)).toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

export class Notes {
  /**
   * `ctx`: { roomId, token, device, self() → { name, host }, meeting() → the start (RFC 3339)
   * of the meeting now or next, or null }. A page shows one notes view at a time (the home's,
   * or the call's): the textarea's id is the same on every page, since y-textarea keys each
   * person's cursor by it.
   */
  constructor(panel, ctx) {
    this.panel = panel;
    this.ctx = ctx;
    this.sync = null;
    this.binding = null;
    this.doc = null;
    const id = (s) => `notes-${s}`;
    this.picker = el('select', { id: id('doc') });
    this.stateLine = el('p', { id: id('state'), class: 'notes-state', role: 'status' });
    this.readOnlyLine = el('p', { id: id('read-only'), class: 'notes-read-only', hidden: true },
      'You can read these notes; only the room\u2019s hosts edit them.');
    this.problemLine = el('p', { id: id('problem'), class: 'notes-problem', role: 'alert', hidden: true });
    this.people = el('ul', { id: id('people'), class: 'notes-people', 'aria-label': 'In this document' });
    this.area = el('textarea', { id: id('text'), class: 'notes-text', spellcheck: 'true', readonly: true, rows: '16',
      'aria-describedby': id('state') });
    this.preview = el('div', { id: id('preview'), class: 'notes-preview markdown', hidden: true, tabindex: '0', 'aria-label': 'Preview' });
    this.previewButton = el('button', { type: 'button', id: id('preview-toggle'), 'aria-pressed': 'false', 'aria-controls': id('preview') }, 'Preview');
    this.download = el('a', { id: id('download'), download: '' }, 'Download as Markdown');
    panel.replaceChildren(el('section', { class: 'notes', 'aria-label': 'Shared notes' },
      el('div', { class: 'notes-head' },
        el('label', { for: id('doc') }, 'Document'), this.picker,
        this.previewButton, this.download),
      el('div', { class: 'notes-who' }, el('span', { class: 'lead' }, 'Here:'), this.people),
      this.stateLine, this.readOnlyLine, this.problemLine,
      el('div', { class: 'notes-area' },
        el('label', { for: id('text'), class: 'visually-hidden' }, 'Notes, in Markdown'),
        this.area),
      this.preview));
    this.picker.addEventListener('change', () => this.open(this.picker.value));
    this.previewButton.addEventListener('click', () => this.togglePreview());
    this.area.addEventListener('input', () => { this.problemLine.hidden = true; });
  }

  /** The documents this page may open, the one shown first first. */
  choices() {
    const list = [];
    const meeting = this.ctx.meeting?.();
    if (meeting) list.push([`minutes:${meeting}`, `Minutes, ${meetingLabel(meeting)}`]);
    list.push(['room', 'Room notes']);
    if (this.ctx.self().host) list.push(['template', 'Template for new minutes']);
    return list;
  }

  /** Shows the notes (when their tab or panel opens): the document chosen, or the first. */
  show(doc) {
    const choices = this.choices();
    const keep = doc ?? this.doc ?? choices[0][0];
    this.picker.replaceChildren(...choices.map(([value, label]) => el('option', { value, selected: value === keep }, label)));
    if (keep !== this.doc) this.open(keep);
  }

  url(doc, scheme) {
    const q = new URLSearchParams();
    if (this.ctx.token) q.set('t', this.ctx.token);
    if (this.ctx.device) q.set('device', this.ctx.device);
    const path = `/api/v1/rooms/${encodeURIComponent(this.ctx.roomId)}/docs/${encodeURIComponent(doc)}`;
    const proto = scheme === 'ws' ? (location.protocol === 'https:' ? 'wss:' : 'ws:') : location.protocol;
    return { live: `${proto}//${location.host}${path}?${q}`, path, query: q.toString() };
  }

  open(doc) {
    this.close();
    this.doc = doc;
    const { live } = this.url(doc, 'ws');
    const { path, query } = this.url(doc, 'http');
    this.download.href = `${path}/markdown?${query}`;
    this.sync = new NotesSync(live, `${path}/markdown?${query}`);
    this.sync.addEventListener('state', (e) => this.showState(e.detail));
    this.sync.addEventListener('presence', () => this.showPeople());
    this.sync.addEventListener('denied', () => this.showState(this.sync.state()));
    this.sync.addEventListener('reset', (e) => {
      this.problemLine.textContent = RESETS[e.detail] ?? 'Your last edit was not kept.';
      this.problemLine.hidden = false;
      announce(this.problemLine.textContent);
      this.bind();
    });
    this.bind();
  }

  /** The page learnt who it is (a room home's channel opened after the notes did): others
   *  see the new name on this page's cursor and in the list from now on. */
  selfChanged() {
    if (!this.sync || (this.ctx.self().name || 'Guest') === this.boundName) return;
    const { selectionStart, selectionEnd } = this.area;
    this.bind();
    this.area.setSelectionRange(selectionStart, selectionEnd);
  }

  /** Binds the textarea to the current yjs document, with this page's name and colour. */
  bind() {
    // What the last binding hung on the document goes with it: observers run in the order
    // they were added, and keepCaret's must follow the binding's.
    for (const off of this.unbinds ?? []) off();
    this.binding?.destroy();
    this.area.value = '';
    const sync = this.sync;
    const name = this.ctx.self().name || 'Guest';
    this.boundName = name;
    const color = COLORS[sync.doc.clientID % COLORS.length];
    sync.awareness.setLocalStateField('user', { name, color });
    this.binding = new TextAreaBinding(sync.text, this.area, { awareness: sync.awareness, clientName: name, color });
    const preview = () => this.renderPreview();
    sync.text.observe(preview);
    this.unbinds = [this.keepCaret(sync), () => sync.text.unobserve(preview)];
    this.renderPreview();
    this.showState(sync.state());
    this.showPeople();
  }

  /**
   * Keeps this page's caret after the text it just typed when someone else types at the same
   * place. y-textarea restores the caret after a remote change from a position tied to the
   * character on its right, so a remote insert at the caret pushed it along, and two people
   * typing at one spot had their letters interleaved. Tied to the character on the left
   * instead (assoc -1), each person's typing stays together. This runs after y-textarea's own
   * observer (registered first) and corrects what it set. Returns what removes it.
   */
  keepCaret(sync) {
    const { doc, text } = sync;
    let caret = null;
    const before = (tr) => {
      caret = !tr.local && document.activeElement === this.area
        ? [this.area.selectionStart, this.area.selectionEnd, this.area.selectionDirection]
          .map((v, i) => (i < 2 ? Y.createRelativePositionFromTypeIndex(text, v, -1) : v))
        : null;
    };
    const after = (_, tr) => {
      if (tr.local || !caret) return;
      const [start, end] = caret.slice(0, 2).map((r) => Y.createAbsolutePositionFromRelativePosition(r, doc));
      if (start && end) this.area.setSelectionRange(start.index, end.index, caret[2]);
    };
    doc.on('beforeTransaction', before);
    text.observe(after);
    return () => {
      doc.off('beforeTransaction', before);
      text.unobserve(after);
    };
  }

  showState(state) {
    const s = this.sync;
    this.stateLine.textContent = STATES[state] ?? '';
    this.stateLine.dataset.state = state;
    this.readOnlyLine.hidden = !s.readOnly;
    // Editing starts only once the page has the server's document (notes-sync.js).
    this.area.readOnly = !s.synced || s.readOnly || state === 'gone';
  }

  showPeople() {
    const people = this.sync.people();
    this.people.replaceChildren(...people
      .sort((a, b) => (b.self - a.self) || a.name.localeCompare(b.name))
      .map((p) => el('li', {}, el('bdi', {}, p.name), p.self ? ' (you)' : '')));
  }

  togglePreview() {
    const on = this.preview.hidden;
    this.preview.hidden = !on;
    this.previewButton.setAttribute('aria-pressed', String(on));
    this.renderPreview();
  }

  renderPreview() {
    if (this.preview.hidden || !this.sync) return;
    const text = this.sync.text.toString();
    this.preview.replaceChildren(text.trim() ? renderMarkdown(text) : el('p', { class: 'lead' }, 'Nothing written yet.'));
  }

  /** The text as this page has it (the e2e tests compare pages by it). */
  text() {
    return this.sync?.text.toString() ?? '';
  }

  close() {
    this.binding?.destroy();
    this.binding = null;
    this.sync?.close();
    this.sync = null;
    this.doc = null;
  }
}
