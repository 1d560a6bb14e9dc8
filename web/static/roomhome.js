// The room's home, before joining and between meetings: what the room is, when it next meets
// (in the viewer's time, with its calendar), the Join button, and the room's kept life in tabs
// (its chat and its board), live through the room channel: a WebSocket that opens the room
// without media.

import { el, $, announce } from './dom.js';
import { Signaling, PROTOCOL_VERSION } from './signaling.js';
import { Chat, fetchEarlier } from './chat.js';
import { Board } from './board.js';
import { Meetings } from './meetings.js';
import { Notes } from './notes.js';
import { describeMeeting, recordingNote } from './lobby.js';

const NAME_KEY = 'cohort.name';
const savedName = () => {
  try {
    return localStorage.getItem(NAME_KEY) ?? '';
  } catch {
    return '';
  }
};

export class RoomHome {
  constructor(root, { room, token, device, lobby, wsUrl }) {
    Object.assign(this, { root, room, token, device, lobby, wsUrl });
    this.sig = null;
    this.opened = null;
    this.closed = false;
    this.name = savedName();
  }

  /** Shows the home; resolves when the person chooses to join the call. */
  show() {
    const { lobby } = this;
    const calendar = `/api/v1/rooms/${encodeURIComponent(lobby.room_id)}/calendar.ics?t=${encodeURIComponent(this.token ?? '')}`;
    const exportUrl = `/api/v1/rooms/${encodeURIComponent(lobby.room_id)}/export?t=${encodeURIComponent(this.token ?? '')}`;
    const meeting = describeMeeting(lobby);
    const open = lobby.open;
    const waits = !open && Boolean(lobby.opens_at);
    const join = el('button', { type: 'button', id: 'home-join', class: 'primary', disabled: !open && !waits },
      open ? 'Join the call' : waits ? 'Wait for the meeting' : 'No meeting is scheduled');
    const tab = el('button', { type: 'button', role: 'tab', id: 'tab-chat', 'aria-selected': 'true', 'aria-controls': 'panel-chat' }, 'Chat');
    const panel = el('section', { role: 'tabpanel', id: 'panel-chat', 'aria-labelledby': 'tab-chat', class: 'home-panel' });
    const notesTab = el('button', { type: 'button', role: 'tab', id: 'tab-notes', 'aria-selected': 'false', 'aria-controls': 'panel-notes', tabindex: '-1' }, 'Notes');
    const notesPanel = el('section', { role: 'tabpanel', id: 'panel-notes', 'aria-labelledby': 'tab-notes', class: 'home-panel', hidden: true });
    const boardTab = el('button', { type: 'button', role: 'tab', id: 'tab-board', 'aria-selected': 'false', 'aria-controls': 'panel-board', tabindex: '-1' }, 'Board');
    const boardPanel = el('section', { role: 'tabpanel', id: 'panel-board', 'aria-labelledby': 'tab-board', class: 'home-panel', hidden: true });
    const meetingsTab = el('button', { type: 'button', role: 'tab', id: 'tab-meetings', 'aria-selected': 'false', 'aria-controls': 'panel-meetings', tabindex: '-1' }, 'Meetings');
    const meetingsPanel = el('section', { role: 'tabpanel', id: 'panel-meetings', 'aria-labelledby': 'tab-meetings', class: 'home-panel', hidden: true });
    this.root.replaceChildren(el('section', { class: 'room-home' },
      el('header', { class: 'home-head' },
        el('h1', {}, el('bdi', { class: 'room-name' }, lobby.name)),
        lobby.description ? el('p', { class: 'lead', dir: 'auto' }, lobby.description) : null,
        el('p', { id: 'meeting-info', class: 'meeting-info', hidden: !meeting }, meeting),
        el('p', { id: 'recording-note', class: 'lead' }, recordingNote(lobby)),
        lobby.next_meeting ? el('p', {}, el('a', { id: 'add-calendar', href: calendar, download: `${lobby.slug}.ics` }, 'Add to calendar')) : null,
        el('p', { id: 'export-room', hidden: true }, el('a', { href: exportUrl, download: '' }, 'Export the room (chat, board and files, as a ZIP file)')),
        join,
        el('p', { id: 'home-status', class: 'status', role: 'status' })),
      el('div', { class: 'tabs' },
        el('div', { role: 'tablist', 'aria-label': 'The room between meetings' }, tab, notesTab, boardTab, meetingsTab),
        panel, notesPanel, boardPanel, meetingsPanel)));
    this.tabs([[tab, panel], [notesTab, notesPanel], [boardTab, boardPanel], [meetingsTab, meetingsPanel]]);
    this.notes = new Notes(notesPanel, {
      roomId: lobby.room_id,
      token: this.token,
      device: this.device,
      self: () => ({ host: Boolean(this.opened?.host), name: this.signName() }),
      meeting: () => lobby.next_meeting?.start ?? null,
    });
    this.meetings = new Meetings(meetingsPanel, {
      roomId: lobby.room_id,
      token: this.token,
      device: this.device,
      self: () => ({ host: Boolean(this.opened?.host) }),
    });
    this.board = new Board(boardPanel, {
      roomId: lobby.room_id,
      token: this.token,
      device: this.device,
      self: () => ({ identity: this.opened?.identity, host: Boolean(this.opened?.host), name: this.signName() }),
    });
    this.chat = new Chat(panel, null, {
      send: (text) => this.post(text),
      edit: (id, text) => this.sig?.send({ type: 'chat_edit', id, text }),
      remove: (id) => this.sig?.send({ type: 'chat_delete', id }),
      earlier: (before) => fetchEarlier(lobby.room_id, this.token, this.device, before),
      self: () => ({ identity: this.opened?.identity, host: Boolean(this.opened?.host) }),
    }, { heading: null, idPrefix: 'home-chat' });
    this.chat.visible = true;
    this.nameField(panel);
    this.connect();
    return new Promise((resolve) => join.addEventListener('click', () => resolve()));
  }

  /** Tabs by click, or by arrow keys, Home and End (WAI-ARIA tabs, selection follows focus). */
  tabs(pairs) {
    const select = (n) => {
      pairs.forEach(([t, p], i) => {
        t.setAttribute('aria-selected', String(i === n));
        t.tabIndex = i === n ? 0 : -1;
        p.hidden = i !== n;
      });
      // The meetings are read when their tab is shown: they change only between visits.
      if (pairs[n][1].id === 'panel-meetings') this.meetings.load();
      // The notes connect when first shown, and stay connected while the page is open.
      if (pairs[n][1].id === 'panel-notes') this.notes.show();
    };
    pairs.forEach(([t], i) => {
      t.addEventListener('click', () => select(i));
      t.addEventListener('keydown', (e) => {
        const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: pairs.length - 1 }[e.key];
        if (to === undefined) return;
        e.preventDefault();
        const n = (to + pairs.length) % pairs.length;
        select(n);
        pairs[n][0].focus();
      });
    });
  }

  /** The name this page signs with: the channel's, or one just typed (kept for next time). */
  signName() {
    if (this.opened?.name) return this.opened.name;
    const typed = $('#home-chat-name', this.root)?.value.trim();
    if (!typed) return null;
    try {
      localStorage.setItem(NAME_KEY, typed);
    } catch { /* a private window */ }
    return typed;
  }

  /** A guest posts under a name: asked for here when the page knows none. */
  nameField(panel) {
    const form = $('#home-chat-form', panel);
    this.nameBox = el('div', { class: 'chat-name', hidden: Boolean(this.name) },
      el('label', { for: 'home-chat-name' }, 'Your name'),
      el('input', { id: 'home-chat-name', maxlength: '64', autocomplete: 'name' }));
    form.prepend(this.nameBox);
  }

  status(text) {
    $('#home-status', this.root).textContent = text;
  }

  async connect() {
    let delay = 1000;
    while (!this.closed) {
      const sig = new Signaling(this.wsUrl);
      try {
        await sig.open();
      } catch {
        this.status('Cannot reach the server; trying again…');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10000);
        continue;
      }
      const open = { type: 'open', v: PROTOCOL_VERSION, room: this.room, device: this.device };
      if (this.token) open.token = this.token;
      if (this.name) open.name = this.name;
      sig.send(open);
      let answer;
      try {
        answer = await sig.next(['opened', 'error']);
      } catch {
        sig.close();
        continue;
      }
      // The person went on to the call while the channel opened: the home is gone.
      if (this.closed) {
        sig.close();
        return;
      }
      if (answer.type === 'error') {
        sig.close();
        this.status(answer.msg.message);
        return;
      }
      delay = 1000;
      this.sig = sig;
      this.opened = answer.msg;
      this.notes.selfChanged();
      this.root.querySelector('#export-room').hidden = !this.opened.host;
      this.nameBox.hidden = Boolean(this.opened.name);
      this.chat.reset(this.opened.chat, this.opened.more_chat);
      this.status('');
      sig.addEventListener('chat', (e) => this.chat.add(e.detail));
      sig.addEventListener('chat_updated', (e) => this.chat.update(e.detail));
      sig.addEventListener('board_item', (e) => this.board.put(e.detail.item));
      sig.addEventListener('board_removed', (e) => this.board.remove(e.detail.id));
      this.board.load();
      sig.addEventListener('error', (e) => announce(e.detail.message));
      const ended = await new Promise((r) => sig.addEventListener('closed', (e) => r(e.detail)));
      this.sig = null;
      if (ended.code === 1008) {
        this.status('This link no longer works. Ask the organiser for a new one.');
        return;
      }
    }
  }

  /** Sends a message; a guest without a name gives one first, and the channel opens with it. */
  async post(text) {
    if (!this.opened?.name) {
      const name = $('#home-chat-name', this.root).value.trim();
      if (!name) {
        this.status('Please enter your name to post.');
        $('#home-chat-name', this.root).focus();
        return false;
      }
      this.name = name;
      try {
        localStorage.setItem(NAME_KEY, name);
      } catch { /* a private window: for this visit only */ }
      // Open again under the name; the loop reconnects at once.
      this.sig?.close();
      this.sig?.dispatchEvent(new CustomEvent('closed', { detail: { code: 1000 } }));
      const ready = await new Promise((resolve) => {
        const t0 = Date.now();
        const poll = () => (this.opened?.name && this.sig ? resolve(true) : Date.now() - t0 > 5000 ? resolve(false) : setTimeout(poll, 50));
        poll();
      });
      if (!ready) return false;
    }
    return Boolean(this.sig?.send({ type: 'chat', text }));
  }

  /** Stops listening (the call takes over). */
  close() {
    this.closed = true;
    this.sig?.close();
    this.notes?.close();
  }
}
