// A room's resource board on its home page: links, files and notes, pinned first, live through
// the room channel. Sharing is a form (a link, a note, or a file uploaded as its bytes); the
// author or a host pins, moves and deletes. Every title and name enters the page as text; a
// note's Markdown is rendered safely (markdown.js): formatting and links, never HTML of its own.

import { el, $, announce, formatTime } from './dom.js';
import { renderMarkdown } from './markdown.js';

const when = (iso) => {
  const t = Date.parse(iso);
  return `${new Date(t).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' })}, ${formatTime(t)}`;
};

export class Board {
  /** `ctx`: { roomId, token, device, self() → { identity, host, name } }. */
  constructor(panel, ctx) {
    this.panel = panel;
    this.ctx = ctx;
    this.items = new Map();
    panel.replaceChildren(
      el('ol', { id: 'board-list', class: 'board-list', 'aria-label': 'Shared in this room' }),
      el('p', { id: 'board-empty', class: 'lead' }, 'Nothing is shared yet.'),
      this.form());
    this.list = $('#board-list', panel);
  }

  headers(json) {
    const h = { Authorization: `Bearer ${this.ctx.token}` };
    if (this.ctx.device) h['X-Cohort-Device'] = this.ctx.device;
    if (json) h['Content-Type'] = 'application/json';
    return h;
  }

  base() {
    return `/api/v1/rooms/${encodeURIComponent(this.ctx.roomId)}/board`;
  }

  async load() {
    try {
      const res = await fetch(this.base(), { headers: this.headers(false) });
      if (!res.ok) return;
      const body = await res.json();
      this.items = new Map(body.items.map((i) => [i.id, i]));
      this.render();
    } catch { /* the channel's events still arrive */ }
  }

  put(item) {
    this.items.set(item.id, item);
    this.render();
  }

  remove(id) {
    this.items.delete(id);
    this.render();
  }

  sorted() {
    return [...this.items.values()].sort((a, b) => (b.pinned - a.pinned) || (a.position - b.position) || (a.created_at_ms - b.created_at_ms));
  }

  render() {
    const items = this.sorted();
    this.list.replaceChildren(...items.map((item, i) => this.row(item, i, items.length)));
    $('#board-empty', this.panel).hidden = items.length > 0;
  }

  row(item, index, count) {
    const self = this.ctx.self();
    const mine = item.identity === self.identity;
    let head;
    if (item.kind === 'link') {
      head = el('a', { href: item.url, rel: 'noopener noreferrer nofollow', target: '_blank', class: 'board-title' }, item.title);
    } else if (item.kind === 'file') {
      const href = `${item.file.download}?t=${encodeURIComponent(this.ctx.token)}`;
      head = el('a', { href, download: item.file.name, class: 'board-title' }, item.title);
    } else {
      head = el('span', { class: 'board-title' }, item.title);
    }
    const meta = [item.author_name];
    if (item.kind === 'file') meta.push(`${item.file.name}, ${Math.max(1, Math.round(item.file.size / 1000))} kB`);
    if (item.meeting) meta.push(`${Date.parse(item.meeting) > Date.now() ? 'for the meeting of' : 'shared in the meeting of'} ${when(item.meeting)}`);
    const li = el('li', { 'data-id': item.id, class: item.pinned ? 'pinned' : '' },
      item.pinned ? el('span', { class: 'pin' }, 'Pinned: ') : null,
      el('bdi', {}, head),
      item.description ? el('p', { class: 'board-description', dir: 'auto' }, item.description) : null,
      item.kind === 'text' ? el('div', { class: 'board-note markdown', dir: 'auto' }, renderMarkdown(item.body)) : null,
      item.kind === 'file' && item.file.inline
        ? el('img', { src: `${item.file.download}?inline=1&t=${encodeURIComponent(this.ctx.token)}`, alt: item.title, class: 'board-image' })
        : null,
      el('p', { class: 'board-meta' }, meta.join(' · ')));
    if (mine || self.host) {
      const tools = el('div', { class: 'chat-tools' });
      const act = (label, aria, fn) => {
        const b = el('button', { type: 'button', class: 'link', 'aria-label': `${aria} “${item.title}”` }, label);
        b.addEventListener('click', fn);
        tools.append(b);
      };
      act(item.pinned ? 'Unpin' : 'Pin', item.pinned ? 'Unpin' : 'Pin', () => this.change(item, { pinned: !item.pinned }));
      if (index > 0) act('Move up', 'Move up', () => this.change(item, { position: index - 1 }));
      if (index < count - 1) act('Move down', 'Move down', () => this.change(item, { position: index + 1 }));
      act('Delete', 'Delete', () => {
        if (confirm(`Delete “${item.title}” from the board?`)) this.send('DELETE', `${this.base()}/${item.id}`);
      });
      li.append(tools);
    }
    return li;
  }

  change(item, patch) {
    return this.send('PATCH', `${this.base()}/${item.id}`, patch);
  }

  /** A request whose answer the channel also brings; a refusal is said. */
  async send(method, url, json, raw) {
    try {
      const res = await fetch(url, {
        method,
        headers: raw ? this.headers(false) : this.headers(json !== undefined),
        body: raw ?? (json === undefined ? undefined : JSON.stringify(json)),
      });
      if (res.ok) return res.status === 204 ? {} : await res.json();
      const problem = await res.json().catch(() => ({}));
      this.status(problem.errors?.map((e) => e.message).join('; ') || problem.detail || 'That did not work.');
    } catch {
      this.status('Cannot reach the server.');
    }
    return null;
  }

  status(text) {
    $('#board-status', this.panel).textContent = text;
    if (text) announce(text);
  }

  form() {
    const kind = (value, label, checked) => el('label', { class: 'choice' },
      el('input', { type: 'radio', name: 'board-kind', value, checked }), ` ${label}`);
    const form = el('form', { id: 'board-share', class: 'board-share' },
      el('fieldset', {},
        el('legend', {}, 'Share with the room'),
        el('div', { class: 'choices' }, kind('link', 'A link', true), kind('text', 'A note', false), kind('file', 'A file', false)),
        el('label', { for: 'board-title' }, 'Title'),
        el('input', { id: 'board-title', maxlength: '200' }),
        el('div', { id: 'board-url-field' }, el('label', { for: 'board-url' }, 'Link (https://…)'), el('input', { id: 'board-url', type: 'url', maxlength: '2048' })),
        el('div', { id: 'board-text-field', hidden: true }, el('label', { for: 'board-text' }, 'Note'), el('textarea', { id: 'board-text', rows: '4', maxlength: '10000' })),
        el('div', { id: 'board-file-field', hidden: true }, el('label', { for: 'board-file' }, 'File (PDF, image, office document or text)'), el('input', { id: 'board-file', type: 'file' })),
        el('button', { type: 'submit', class: 'primary' }, 'Share'),
        el('p', { id: 'board-status', class: 'status', role: 'status' })));
    const choose = () => {
      const k = form.querySelector('input[name=board-kind]:checked').value;
      form.querySelector('#board-url-field').hidden = k !== 'link';
      form.querySelector('#board-text-field').hidden = k !== 'text';
      form.querySelector('#board-file-field').hidden = k !== 'file';
    };
    form.addEventListener('change', choose);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.share(form);
    });
    return form;
  }

  async share(form) {
    const k = form.querySelector('input[name=board-kind]:checked').value;
    const name = this.ctx.self().name;
    if (!name) {
      this.status('Please give your name first (above the chat), to sign what you share.');
      return;
    }
    const title = $('#board-title', form).value.trim();
    let done;
    if (k === 'file') {
      const file = $('#board-file', form).files[0];
      if (!file) {
        this.status('Choose a file to share.');
        return;
      }
      const q = new URLSearchParams({ name: file.name, author: name });
      if (title) q.set('title', title);
      done = await this.send('POST', `${this.base()}/files?${q}`, undefined, file);
    } else {
      const body = { kind: k, title, author: name };
      if (k === 'link') body.url = $('#board-url', form).value.trim();
      else body.body = $('#board-text', form).value;
      done = await this.send('POST', this.base(), body);
    }
    if (done) {
      form.reset();
      form.dispatchEvent(new Event('change'));
      this.status('Shared.');
      this.put(done);
    }
  }
}
