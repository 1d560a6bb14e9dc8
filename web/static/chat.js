// The chat panel: messages with sender and time, a form to send, an unread count on the
// Chat button while the panel is closed.

import { el, $, formatTime } from './dom.js';

export class Chat {
  constructor(panel, badge, send) {
    this.panel = panel;
    this.badge = badge;
    this.unread = 0;
    this.visible = false;
    this.seen = new Set();
    panel.replaceChildren(
      el('h2', {}, 'Chat'),
      el('ol', { id: 'chat-log', class: 'chat-log', 'aria-live': 'polite' }),
      el('form', { id: 'chat-form', class: 'chat-form' },
        el('label', { for: 'chat-input' }, 'Message'),
        el('textarea', { id: 'chat-input', rows: '2', maxlength: '2000', required: true }),
        el('button', { type: 'submit' }, 'Send')),
    );
    const input = $('#chat-input', panel);
    $('#chat-form', panel).addEventListener('submit', (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (text && send(text)) input.value = '';
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        $('#chat-form', panel).requestSubmit();
      }
    });
  }

  /** Adds a relayed message (once, however often it is seen). */
  add(msg, fromSelf) {
    if (this.seen.has(msg.id)) return;
    this.seen.add(msg.id);
    const log = $('#chat-log', this.panel);
    log.append(el('li', { class: fromSelf ? 'mine' : '' },
      el('bdi', { class: 'sender' }, msg.name),
      ' ',
      el('time', { datetime: new Date(msg.sent_at_ms).toISOString() }, formatTime(msg.sent_at_ms)),
      // Each message is isolated, so right-to-left text or a stray override stays inside it.
      el('p', { class: 'text', dir: 'auto' }, msg.text)));
    log.lastElementChild.scrollIntoView?.({ block: 'end' });
    if (!this.visible && !fromSelf) {
      this.unread += 1;
      this.renderBadge();
    }
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible) {
      this.unread = 0;
      this.renderBadge();
      $('#chat-input', this.panel)?.focus();
    }
  }

  renderBadge() {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = String(this.unread);
    this.badge.setAttribute('aria-label', `${this.unread} unread`);
  }
}
