// The console's register of one room: its members by the meetings held, each mark what the
// room's thresholds suggest or what a host set (with a note), totals per member (attended of
// held, minutes present, talk time where the room keeps it), the guests who came by the shared
// link apart, and the register as CSV or JSON. Names and notes enter the page as text.

import { el, $ } from './dom.js';
import { request, segment, storedKey } from './organise-api.js';
import { call } from './api.js';
import { clearErrors, showErrors } from './organise-form.js';

const ui = {
  view: $('#register-view'),
  title: $('#register-title'),
  back: $('#register-back'),
  summary: $('#register-summary'),
  caption: $('#register-caption'),
  head: $('#register-head'),
  body: $('#register-body'),
  guestsTable: $('#guests-table'),
  guestsHead: $('#guests-head'),
  guestsBody: $('#guests-body'),
  guestsEmpty: $('#guests-empty'),
  csv: $('#register-csv'),
  json: $('#register-json'),
  dialog: $('#mark-dialog'),
  form: $('#mark-form'),
  markTitle: $('#mark-title'),
  detail: $('#mark-detail'),
  status: $('#mark-status'),
  note: $('#mark-note'),
  save: $('#mark-save'),
  cancel: $('#mark-cancel'),
};

const WORD = { present: 'Present', late: 'Late', absent: 'Absent', excused: 'Excused' };

let ctx = null; // { say, signedOut, showRooms }
let room = null;
let reg = null; // GET /rooms/{id}/register
let editing = null; // { line, meeting, mark, button }

const fail = (e, what) => (e.status === 401 ? ctx.signedOut(e.message) : ctx.say(`${what}: ${e.message}`));

function day(start) {
  return new Intl.DateTimeFormat([], { timeZone: reg.time_zone, weekday: 'short', day: 'numeric', month: 'short' }).format(new Date(start));
}

function time(start) {
  return new Intl.DateTimeFormat([], { timeZone: reg.time_zone, hour: '2-digit', minute: '2-digit' }).format(new Date(start));
}

const when = (m) => `${day(m.start)} ${time(m.start)}`;

const minutes = (s) => `${Math.round(s / 60)} min`;

function header(row) {
  const cells = [el('th', { scope: 'col' }, 'Name')];
  for (const m of reg.meetings) {
    const th = el('th', { scope: 'col', class: 'meeting-col' }, day(m.start), el('br'), time(m.start));
    if (!m.over) th.append(el('br'), el('span', { class: 'now-tag' }, 'under way'));
    if (!m.scheduled) th.append(el('br'), el('span', { class: 'now-tag' }, 'off schedule'));
    cells.push(th);
  }
  cells.push(el('th', { scope: 'col' }, 'Attended'), el('th', { scope: 'col' }, 'Time present'));
  if (reg.talk_time) cells.push(el('th', { scope: 'col' }, 'Talk time'));
  row.replaceChildren(...cells);
}

function markCell(line, meeting, mark) {
  if (!mark) return el('td', { class: 'mark none' }, el('span', { 'aria-label': 'not there' }, '–'));
  const set = Boolean(mark.host_override);
  const late = mark.status === 'late' && mark.minutes_late ? ` ${mark.minutes_late}′` : '';
  const b = el('button', {
    type: 'button',
    class: `small mark-button mark-${mark.status}`,
    'data-identity': line.identity,
    'data-meeting': meeting.start,
  }, `${WORD[mark.status]}${late}`, set ? el('span', { 'aria-hidden': 'true' }, ' ✎') : null);
  const by = set ? `, set by hand${mark.host_override.note ? `: ${mark.host_override.note}` : ''}` : '';
  b.setAttribute('aria-label', `${line.name}, ${when(meeting)}: ${WORD[mark.status]}${by}. ${minutes(mark.seconds_present)} present. Change`);
  if (set && mark.host_override.note) b.title = mark.host_override.note;
  b.addEventListener('click', () => openMark(line, meeting, mark, b));
  return el('td', { class: 'mark' }, b);
}

function lineRow(line) {
  const t = line.totals;
  const extra = [t.excused ? `${t.excused} excused` : null, t.late ? `${t.late} late` : null].filter(Boolean).join(', ');
  const cells = [
    el('th', { scope: 'row' }, line.name),
    ...reg.meetings.map((m, i) => markCell(line, m, line.marks[i])),
    el('td', { class: 'total' }, `${t.attended} of ${t.held}`, extra ? el('span', { class: 'hint' }, ` (${extra})`) : null),
    el('td', { class: 'total' }, `${t.minutes_present} min`),
  ];
  if (reg.talk_time) cells.push(el('td', { class: 'total' }, minutes(t.seconds_talking ?? 0)));
  return el('tr', { 'data-identity': line.identity }, ...cells);
}

function render() {
  const held = reg.meetings.filter((m) => m.over).length;
  const running = reg.meetings.length - held;
  ui.caption.textContent = `${room.name}: members by meeting, times in ${reg.time_zone}`;
  ui.summary.textContent = `${held} meeting${held === 1 ? '' : 's'} held${running ? ', 1 under way' : ''}; ${reg.members.length} members, ${reg.guests.length} guest${reg.guests.length === 1 ? '' : 's'}.`;
  header(ui.head);
  ui.body.replaceChildren(...reg.members.map(lineRow));
  ui.guestsEmpty.hidden = reg.guests.length > 0;
  ui.guestsTable.hidden = reg.guests.length === 0;
  header(ui.guestsHead);
  ui.guestsBody.replaceChildren(...reg.guests.map(lineRow));
}

async function load() {
  reg = await request('GET', `/rooms/${segment(room.id)}/register`);
  render();
}

export async function openRegister(r) {
  room = r;
  ui.title.textContent = `Register of ${r.name}`;
  ui.summary.textContent = 'Loading…';
  ui.head.replaceChildren();
  ui.body.replaceChildren();
  ui.guestsBody.replaceChildren();
  ui.view.hidden = false;
  ui.title.focus();
  try {
    await load();
  } catch (e) {
    ui.summary.textContent = '';
    fail(e, 'Could not read the register');
  }
}

function openMark(line, meeting, mark, button) {
  editing = { line, meeting, mark, button };
  clearErrors(ui.form);
  ui.markTitle.textContent = `${line.name}, ${when(meeting)}`;
  ui.detail.textContent = `${minutes(mark.seconds_present)} present${mark.minutes_late ? `, ${mark.minutes_late} min late` : ''}${mark.seconds_talking !== undefined ? `, ${minutes(mark.seconds_talking)} talking` : ''}. Suggested: ${WORD[mark.suggested].toLowerCase()}.`;
  ui.status.options[0].textContent = `As the time present suggests (${WORD[mark.suggested].toLowerCase()})`;
  ui.status.value = mark.host_override?.status ?? '';
  ui.note.value = mark.host_override?.note ?? '';
  ui.dialog.showModal();
  ui.status.focus();
}

function closeMark() {
  const back = editing;
  ui.dialog.close();
  editing = null;
  const again = back && ui.view.querySelector(`button[data-identity="${CSS.escape(back.line.identity)}"][data-meeting="${CSS.escape(back.meeting.start)}"]`);
  (again ?? back?.button ?? ui.title).focus();
}

async function saveMark(event) {
  event.preventDefault();
  if (!editing) return;
  clearErrors(ui.form);
  const { line, meeting, mark } = editing;
  const status = ui.status.value;
  ui.save.disabled = true;
  try {
    const path = `/rooms/${segment(room.id)}/attendance/overrides`;
    if (status) {
      await request('PUT', path, { meeting: meeting.start, identity: line.identity, status, note: ui.note.value });
    } else if (mark.host_override) {
      await request('DELETE', `${path}?meeting=${segment(meeting.start)}&identity=${segment(line.identity)}`);
    }
    await load();
    ctx.say(status ? `${line.name} marked ${status} for ${when(meeting)}.` : `${line.name}'s mark for ${when(meeting)} is as suggested again.`);
    closeMark();
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    showErrors(ui.form, e);
  } finally {
    ui.save.disabled = false;
  }
}

/** The register as a file, fetched as this tab is signed in (a key cannot ride on a link). */
async function download(format) {
  try {
    const text = await call('GET', `/rooms/${segment(room.id)}/register?format=${format}`, { key: storedKey(), text: true });
    const type = format === 'csv' ? 'text/csv' : 'application/json';
    const a = el('a', { href: URL.createObjectURL(new Blob([text], { type })), download: `register-${room.slug}.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    ctx.say(`The register downloaded as ${format.toUpperCase()}.`);
  } catch (e) {
    fail(e, 'Could not download the register');
  }
}

export function initRegister(context) {
  ctx = context;
  ui.back.addEventListener('click', () => {
    ui.view.hidden = true;
    ctx.showRooms(room?.id, 'register');
  });
  ui.csv.addEventListener('click', () => download('csv'));
  ui.json.addEventListener('click', () => download('json'));
  ui.form.addEventListener('submit', saveMark);
  ui.cancel.addEventListener('click', closeMark);
  ui.dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    closeMark();
  });
}
