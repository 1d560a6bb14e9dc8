// The chat: one conversation for the call's side panel and the room home. Messages are grouped
// by day and, in a stored room, by meeting; the author edits or deletes their own, a host
// deletes anyone's; earlier messages load a page at a time; an unread count shows on the Chat
// button while the panel is closed. User text only ever enters the page as text.

import { el, $, formatTime } from './dom.js';

const dayLabel = (ms) => new Date(ms).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
const dayKey = (ms) => new Date(ms).toDateString();

/** "Tuesday 3 March meeting, 18:00" in the viewer's time, or "Between meetings". */
function meetingLabel(occurrence) {
  if (!occurrence) return 'Between meetings';
  const start = Date.parse(occurrence);
  return `${dayLabel(start)} meeting, ${formatTime(start)}`;
}

export class Chat {
  /**
   * `actions`: { send(text) → bool, edit(id, text), remove(id), earlier(beforeId) → Promise of
   * { messages, more } or null, self() → { identity, host, participantId } }. Edit, remove and earlier may be
   * absent (an ad hoc room keeps nothing).
   */
  constructor(panel, badge, actions, { heading = 'Chat', idPrefix = 'chat' } = {}) {
    this.panel = panel;
    this.badge = badge;
    this.actions = actions;
    this.unread = 0;
    this.visible = false;
    this.messages = [];
    this.byId = new Map();
    this.more = false;
    this.p = idPrefix;
    panel.replaceChildren(
      heading ? el('h2', {}, heading) : null,
      el('button', { type: 'button', id: `${this.p}-earlier`, class: 'earlier', hidden: true }, 'Show earlier messages'),
      el('ol', { id: `${this.p}-log`, class: 'chat-log', 'aria-live': 'polite', 'aria-label': 'Messages' }),
      el('form', { id: `${this.p}-form`, class: 'chat-form' },
        el('label', { for: `${this.p}-input` }, 'Message'),
        el('textarea', { id: `${this.p}-input`, rows: '2', maxlength: '2000', required: true }),
        el('button', { type: 'submit' }, 'Send')),
    );
    this.log = $(`#${this.p}-log`, panel);
    this.input = $(`#${this.p}-input`, panel);
    this.form = $(`#${this.p}-form`, panel);
    this.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = this.input.value.trim();
      if (text && await actions.send(text)) this.input.value = '';
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        this.form.requestSubmit();
      }
    });
    $(`#${this.p}-earlier`, panel).addEventListener('click', () => this.loadEarlier());
  }

  /** Replaces the conversation (on join or open), `more` when older messages exist. */
  reset(messages, more = false) {
    this.messages = [];
    this.byId.clear();
    for (const m of messages) this.remember(m);
    this.more = more;
    this.render();
  }

  remember(m) {
    if (this.byId.has(m.id)) return false;
    this.byId.set(m.id, m);
    this.messages.push(m);
    return true;
  }

  /** Adds a message as it arrives (once, however often it is seen). */
  add(msg) {
    if (!this.remember(msg)) return;
    const prev = this.messages[this.messages.length - 2];
    this.log.append(...this.headings(prev, msg), this.item(msg));
    this.log.lastElementChild.scrollIntoView?.({ block: 'end' });
    if (!this.visible && !this.mine(msg)) {
      this.unread += 1;
      this.renderBadge();
    }
  }

  /** An edited or deleted message replaces the one with its id. */
  update(msg) {
    const i = this.messages.findIndex((m) => m.id === msg.id);
    if (i < 0) return;
    this.messages[i] = msg;
    this.byId.set(msg.id, msg);
    const node = this.log.querySelector(`li[data-id="${CSS.escape(msg.id)}"]`);
    node?.replaceWith(this.item(msg));
  }

  async loadEarlier() {
    const oldest = this.messages[0];
    if (!oldest || !this.actions.earlier) return;
    const page = await this.actions.earlier(oldest.id);
    if (!page) return;
    const fresh = page.messages.filter((m) => !this.byId.has(m.id));
    for (const m of fresh) this.byId.set(m.id, m);
    this.messages = [...fresh, ...this.messages];
    this.more = page.more;
    this.render();
    this.log.querySelector(`li[data-id="${CSS.escape(oldest.id)}"]`)?.scrollIntoView?.({ block: 'start' });
  }

  mine(m) {
    const self = this.actions.self();
    // A stored room names authors; an ad hoc room only its connections.
    if (m.identity) return m.identity === self.identity;
    return Boolean(self.participantId) && m.participant_id === self.participantId;
  }

  /** The day and meeting headings that go before `m`, given the message before it. */
  headings(prev, m) {
    const out = [];
    const newDay = !prev || dayKey(prev.sent_at_ms) !== dayKey(m.sent_at_ms);
    if (newDay) out.push(el('li', { class: 'chat-day' }, el('h3', {}, dayLabel(m.sent_at_ms))));
    const meetingChanged = prev ? (prev.occurrence ?? null) !== (m.occurrence ?? null) : false;
    if ((newDay && m.occurrence) || (!newDay && meetingChanged)) {
      out.push(el('li', { class: 'chat-meeting' }, el('h4', {}, meetingLabel(m.occurrence))));
    }
    return out;
  }

  render() {
    const nodes = [];
    this.messages.forEach((m, i) => nodes.push(...this.headings(this.messages[i - 1], m), this.item(m)));
    this.log.replaceChildren(...nodes);
    $(`#${this.p}-earlier`, this.panel).hidden = !this.more;
  }

  item(m) {
    const mine = this.mine(m);
    const when = formatTime(m.sent_at_ms);
    const li = el('li', { class: mine ? 'mine' : '', 'data-id': m.id },
      el('bdi', { class: 'sender' }, m.name),
      ' ',
      el('time', { datetime: new Date(m.sent_at_ms).toISOString() }, when),
      m.edited_at_ms && !m.deleted ? el('span', { class: 'edited' }, ' (edited)') : null,
      // Each message is isolated, so right-to-left text or a stray override stays inside it.
      m.deleted
        ? el('p', { class: 'text deleted' }, 'Message deleted')
        : el('p', { class: 'text', dir: 'auto' }, m.text));
    if (m.deleted) return li;
    const tools = [];
    if (mine && this.actions.edit) {
      const edit = el('button', { type: 'button', class: 'link', 'aria-label': `Edit your message from ${when}` }, 'Edit');
      edit.addEventListener('click', () => this.startEdit(li, m));
      tools.push(edit);
    }
    if ((mine || this.actions.self().host) && this.actions.remove) {
      const who = mine ? 'your message' : `the message from ${m.name}`;
      const del = el('button', { type: 'button', class: 'link', 'aria-label': `Delete ${who} from ${when}` }, 'Delete');
      del.addEventListener('click', () => {
        if (confirm(`Delete ${who}? Everyone will see it was deleted.`)) this.actions.remove(m.id);
      });
      tools.push(del);
    }
    if (tools.length) li.append(el('div', { class: 'chat-tools' }, tools));
    return li;
  }

  startEdit(li, m) {
    const id = `${this.p}-edit-${m.id}`;
    const area = el('textarea', { id, rows: '2', maxlength: '2000', required: true });
    area.value = m.text;
    const form = el('form', { class: 'chat-edit' },
      el('label', { for: id }, 'Edit message'), area,
      el('button', { type: 'submit' }, 'Save'),
      el('button', { type: 'button', class: 'cancel' }, 'Cancel'));
    const done = () => li.replaceWith(this.item(this.byId.get(m.id) ?? m));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = area.value.trim();
      if (text && text !== m.text) this.actions.edit(m.id, text);
      done();
    });
    form.querySelector('.cancel').addEventListener('click', done);
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') done();
    });
    li.replaceChildren(form);
    area.focus();
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible) {
      this.unread = 0;
      this.renderBadge();
      this.input?.focus();
    }
  }

  renderBadge() {
    if (!this.badge) return;
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = String(this.unread);
    this.badge.setAttribute('aria-label', `${this.unread} unread`);
  }
}

/** Reads a page of a stored room's chat before `beforeId` over HTTP, with the page's link. */
export async function fetchEarlier(roomId, token, device, beforeId) {
  const headers = { Authorization: `Bearer ${token}` };
  if (device) headers['X-Cohort-Device'] = device;
  try {
    const res = await fetch(`/api/v1/rooms/${encodeURIComponent(roomId)}/chat?limit=50&before=${encodeURIComponent(beforeId)}`, { headers });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}
