// The room home's Meetings tab: past and current meetings, and who came. A host sees everyone
// (the roster's absentees too) and can download the register as CSV; a participant sees only
// their own record. Everything people typed enters the page as text.

import { el, formatTime } from './dom.js';

const day = (iso) => new Date(Date.parse(iso)).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const clock = (iso) => (iso ? formatTime(Date.parse(iso)) : '—');
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

  async get(query) {
    const headers = { Authorization: `Bearer ${this.ctx.token}` };
    if (this.ctx.device) headers['X-Cohort-Device'] = this.ctx.device;
    const res = await fetch(this.url(query), { headers });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail ?? 'not available');
    return res.json();
  }

  async load() {
    let meetings;
    try {
      ({ meetings } = await this.get(''));
    } catch (e) {
      this.status.textContent = `The meetings cannot be shown: ${e.message}`;
      return;
    }
    this.status.textContent = meetings.length ? '' : 'No meeting has been held here yet.';
    this.list.replaceChildren(...meetings.map((m) => this.meeting(m)));
  }

  meeting(start) {
    const body = el('div', { class: 'register' });
    const details = el('details', {}, el('summary', {}, `${day(start)}, ${clock(start)}`), body);
    details.addEventListener('toggle', () => {
      if (details.open) this.register(start, body);
    });
    return el('li', { 'data-meeting': start }, details);
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
    const rows = reg.people.map((p) => el('tr', { 'data-identity': p.identity },
      el('th', { scope: 'row' }, el('bdi', {}, p.name)),
      el('td', { class: `status-${p.status}` }, STATUS[p.status] ?? p.status),
      el('td', {}, clock(p.first_join)),
      el('td', {}, clock(p.last_leave)),
      el('td', {}, String(Math.round(p.seconds_present / 60))),
      el('td', {}, String(p.minutes_late))));
    const table = el('table', { class: 'register-table' },
      el('caption', {}, host ? 'Everyone on the roster, and guests who came' : 'Your attendance'),
      el('thead', {}, el('tr', {}, ...['Name', 'Status', 'Arrived', 'Left', 'Minutes present', 'Minutes late'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows));
    const csv = host
      ? el('p', {}, el('a', { href: this.url(`${q}&format=csv&t=${encodeURIComponent(this.ctx.token)}`), download: '' }, 'Download the register (CSV)'))
      : null;
    body.replaceChildren(table, csv);
  }
}
