// The room home's Meetings tab: past and current meetings, who came, and the notes each
// meeting's end kept (its minutes, and the room's notes as they were), to read and download. A
// host sees everyone (the roster's absentees too), sets someone's status with a note, and
// downloads the register as CSV; a participant sees only their own record. Talk time shows
// where the room keeps it. Everything people typed enters the page as text, and kept notes'
// Markdown is rendered safely (markdown.js).

import { el, formatTime } from './dom.js';
import { renderMarkdown } from './markdown.js';

const day = (iso) => new Date(Date.parse(iso)).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const clock = (iso) => (iso ? formatTime(Date.parse(iso)) : '—');
const minutes = (s) => `${Math.floor(s / 60)} min ${s % 60} s`;
const STATUS = { present: 'Present', late: 'Late', absent: 'Absent', excused: 'Excused' };

export class Meetings {
  /** `ctx`: { roomId, token, device, self() → { host } }. */
  constructor(panel, ctx) {
    this.panel = panel;
    this.ctx = ctx;
    this.list = el('ol', { id: 'meetings-list', class: 'meetings-list', 'aria-label': 'Meetings' });
    this.status = el('p', { id: 'meetings-status', class: 'lead', role: 'status' });
    panel.replaceChildren(this.status, this.list);
  }

  url(query) {
    return `/api/v1/rooms/${encodeURIComponent(this.ctx.roomId)}/attendance${query}`;
  }

  async get(query, method = 'GET', body = undefined) {
    const headers = { Authorization: `Bearer ${this.ctx.token}` };
    if (this.ctx.device) headers['X-Cohort-Device'] = this.ctx.device;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.url(query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail ?? 'not available');
    return res.status === 204 ? null : res.json();
  }

  async load() {
    let meetings;
    let kept;
    try {
      [{ meetings }, { kept }] = await Promise.all([this.get(''), this.history()]);
    } catch (e) {
      this.status.textContent = `The meetings cannot be shown: ${e.message}`;
      return;
    }
    // Meetings with a register, and those with kept notes only (nobody joined the call).
    const byMeeting = new Map();
    for (const k of kept) byMeeting.set(k.meeting, [...(byMeeting.get(k.meeting) ?? []), k]);
    const all = [...new Set([...meetings, ...byMeeting.keys()])].sort((a, b) => Date.parse(b) - Date.parse(a));
    this.status.textContent = all.length ? '' : 'No meeting has been held here yet.';
    this.list.replaceChildren(...all.map((m) => this.meeting(m, byMeeting.get(m) ?? [])));
  }

  async history() {
    const headers = { Authorization: `Bearer ${this.ctx.token}` };
    if (this.ctx.device) headers['X-Cohort-Device'] = this.ctx.device;
    const res = await fetch(`/api/v1/rooms/${encodeURIComponent(this.ctx.roomId)}/notes/history`, { headers });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail ?? 'not available');
    return res.json();
  }

  meeting(start, kept) {
    const body = el('div', { class: 'register' });
    const details = el('details', {},
      el('summary', {}, `${day(start)}, ${clock(start)}`, kept.length ? el('span', { class: 'note' }, ' \u00b7 notes kept') : null),
      kept.length ? this.keptNotes(start, kept) : null, body);
    details.addEventListener('toggle', () => {
      if (details.open) this.register(start, body);
    });
    return el('li', { 'data-meeting': start }, details);
  }

  /** The notes kept at the meeting's end: each read-only (rendered) on demand, and to download. */
  keptNotes(start, kept) {
    const q = (doc) => new URLSearchParams({ meeting: start, doc, t: this.ctx.token ?? '', ...(this.ctx.device ? { device: this.ctx.device } : {}) });
    const items = kept.map((k) => {
      const view = el('div', { class: 'kept-text markdown', hidden: true });
      const button = el('button', { type: 'button', class: 'kept-view', 'aria-expanded': 'false' }, 'Read', el('span', { class: 'visually-hidden' }, ` ${k.title}`));
      button.addEventListener('click', () => {
        const open = view.hidden;
        if (open && !view.childNodes.length) view.append(k.text.trim() ? renderMarkdown(k.text) : el('p', { class: 'lead' }, 'Nothing was written.'));
        view.hidden = !open;
        button.setAttribute('aria-expanded', String(open));
      });
      const href = `/api/v1/rooms/${encodeURIComponent(this.ctx.roomId)}/notes/history/markdown?${q(k.doc)}`;
      return el('li', { 'data-doc': k.doc },
        el('span', { class: 'kept-title' }, k.title), ' ', button, ' ',
        el('a', { href, download: '', class: 'kept-download' }, 'Download (Markdown)', el('span', { class: 'visually-hidden' }, ` ${k.title}`)),
        view);
    });
    return el('section', { class: 'kept-notes', 'aria-label': 'Notes kept at the meeting\u2019s end' },
      el('p', { class: 'lead' }, 'Kept at the meeting\u2019s end, read-only:'), el('ul', {}, ...items));
  }

  async register(start, body) {
    const q = `?meeting=${encodeURIComponent(start)}`;
    let reg;
    try {
      reg = await this.get(q);
    } catch (e) {
      body.replaceChildren(el('p', {}, `Not available: ${e.message}`));
      return;
    }
    const host = this.ctx.self().host;
    const talk = reg.people.some((p) => p.seconds_talking !== undefined);
    const rows = reg.people.map((p) => el('tr', { 'data-identity': p.identity },
      el('th', { scope: 'row' }, el('bdi', {}, p.name)),
      el('td', { class: `status-${p.status}` }, STATUS[p.status] ?? p.status,
        p.host_override ? el('span', { class: 'note' }, ` (by a host${p.host_override.note ? `: ${p.host_override.note}` : ''})`) : null),
      el('td', {}, clock(p.first_join)),
      el('td', {}, clock(p.last_leave)),
      el('td', {}, String(Math.round(p.seconds_present / 60))),
      el('td', {}, String(p.minutes_late)),
      talk ? el('td', {}, minutes(p.seconds_talking ?? 0)) : null,
      host ? el('td', {}, this.changeButton(start, p, body)) : null));
    const heads = ['Name', 'Status', 'Arrived', 'Left', 'Minutes present', 'Minutes late',
      ...(talk ? ['Talk time'] : []), ...(host ? ['Change'] : [])];
    const table = el('table', { class: 'register-table' },
      el('caption', {}, host ? 'Everyone on the roster, and guests who came' : 'Your attendance'),
      el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows));
    const csv = host
      ? el('p', {}, el('a', { href: this.url(`${q}&format=csv&t=${encodeURIComponent(this.ctx.token)}`), download: '' }, 'Download the register (CSV)'))
      : null;
    body.replaceChildren(table, csv);
  }

  /** A host's button that opens a form to set someone's status, with a note. */
  changeButton(start, p, body) {
    const button = el('button', { type: 'button', class: 'change-status' }, el('span', { class: 'visually-hidden' }, `${p.name}: `), 'Change status');
    button.addEventListener('click', () => button.replaceWith(this.changeForm(start, p, body)));
    return button;
  }

  changeForm(start, p, body) {
    const id = `override-${Math.random().toString(36).slice(2)}`;
    const select = el('select', { id: `${id}-status` },
      el('option', { value: '' }, `As suggested (${STATUS[p.suggested] ?? p.suggested})`),
      ...Object.entries(STATUS).map(([v, label]) => el('option', { value: v, selected: p.host_override?.status === v }, label)));
    const note = el('input', { id: `${id}-note`, type: 'text', maxlength: '500', value: p.host_override?.note ?? '' });
    const status = el('span', { role: 'status' });
    const form = el('form', { class: 'override-form' },
      el('label', { for: select.id }, `Status of ${p.name}`), select,
      el('label', { for: note.id }, 'Note'), note,
      el('button', { type: 'submit' }, 'Save'), status);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        if (select.value) {
          await this.get('/overrides', 'PUT', { meeting: start, identity: p.identity, status: select.value, note: note.value });
        } else if (p.host_override) {
          await this.get(`/overrides?meeting=${encodeURIComponent(start)}&identity=${encodeURIComponent(p.identity)}`, 'DELETE');
        }
        await this.register(start, body);
      } catch (err) {
        status.textContent = `Not saved: ${err.message}`;
      }
    });
    return form;
  }
}
