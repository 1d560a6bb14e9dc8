// The console's schedule of one room, as a form rather than an RRULE: days, a time, a
// duration, the first and the last meeting, every week or every other week. The server turns
// the form into its rule and lists the meetings (POST .../schedule/preview), so the list shown
// is what is stored. "Advanced" shows that rule and takes an expert's own. Once saved, each
// meeting can be cancelled (a holiday) or moved, and restored. Times are shown in the room's
// zone, and in the organiser's own beside them when it differs.

import { el, $ } from './dom.js';
import { request, segment } from './organise-api.js';
import { clearErrors, showErrors } from './organise-form.js';

const DAYS = [['MO', 'Monday'], ['TU', 'Tuesday'], ['WE', 'Wednesday'], ['TH', 'Thursday'], ['FR', 'Friday'], ['SA', 'Saturday'], ['SU', 'Sunday']];
const PREVIEW_MS = 250;

const ui = {
  view: $('#schedule-view'),
  title: $('#schedule-title'),
  back: $('#schedule-back'),
  form: $('#schedule-form'),
  days: $('#schedule-days'),
  time: $('#schedule-time'),
  duration: $('#schedule-duration'),
  every: $('#schedule-every'),
  first: $('#schedule-first'),
  last: $('#schedule-last'),
  advanced: $('#schedule-advanced'),
  rrule: $('#schedule-rrule'),
  save: $('#schedule-save'),
  note: $('#meetings-note'),
  head: $('#meetings-head'),
  body: $('#meetings-body'),
};

let ctx = null; // { say, confirm, signedOut, showRooms }
let room = null;
let stored = null; // the room's schedule as stored (GET), or null
let draft = null; // the last preview: { rrule, start, duration_minutes, term, occurrences }
let expert = false; // the rule field was edited by hand: it, not the form, is the schedule
let timer = null;
let asked = 0; // previews asked for; an older answer is dropped

const ownZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const fmt = (zone) => new Intl.DateTimeFormat([], { timeZone: zone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
/** `2026-09-01T18:00:00+02:00` → `2026-09-01T18:00`: the meeting's local start, as the API names it. */
const local = (rfc3339) => rfc3339.slice(0, 16);

for (const [code, name] of DAYS) {
  const id = `schedule-day-${code}`;
  ui.days.append(el('label', { for: id },
    el('input', { type: 'checkbox', id, name: 'term.weekdays', value: code }), name));
}

function term() {
  return {
    weekdays: [...ui.days.querySelectorAll('input:checked')].map((i) => i.value),
    time: ui.time.value,
    duration_minutes: Number(ui.duration.value),
    first: ui.first.value,
    last: ui.last.value || null,
    every_weeks: Number(ui.every.value),
  };
}

function fillForm(t) {
  for (const box of ui.days.querySelectorAll('input')) box.checked = t.weekdays.includes(box.value);
  ui.time.value = t.time;
  ui.duration.value = String(t.duration_minutes);
  ui.first.value = t.first;
  ui.last.value = t.last ?? '';
  ui.every.value = String(t.every_weeks);
}

/** What the preview asks for: the expert's rule, or the form. */
function previewBody() {
  if (expert) {
    return { rrule: ui.rrule.value.trim(), start: draft?.start ?? stored?.start ?? `${ui.first.value}T${ui.time.value}`, duration_minutes: Number(ui.duration.value) };
  }
  return { term: term() };
}

function schedulePreview() {
  clearTimeout(timer);
  timer = setTimeout(preview, PREVIEW_MS);
}

async function preview() {
  const mine = ++asked;
  try {
    const p = await request('POST', `/rooms/${segment(room.id)}/schedule/preview`, previewBody());
    if (mine !== asked) return;
    clearErrors(ui.form);
    draft = p;
    if (!expert) ui.rrule.value = p.rrule;
    if (expert && p.term) fillForm(p.term);
    const same = stored && stored.rrule === p.rrule && stored.start === p.start && stored.duration_minutes === p.duration_minutes;
    if (same) return showStored();
    render(p.occurrences, false);
    ui.note.textContent = `Preview, not saved yet: ${p.occurrences.length}${p.truncated ? '+' : ''} meetings.${p.term ? '' : ' The form cannot state this rule; it is kept as written.'}`;
  } catch (e) {
    if (mine !== asked) return;
    if (e.status === 401) return ctx.signedOut(e.message);
    draft = null;
    showErrors(ui.form, e);
    ui.note.textContent = 'Fix the schedule to see its meetings.';
  }
}

function render(occurrences, saved) {
  const both = room.time_zone !== ownZone;
  ui.head.replaceChildren(
    el('th', { scope: 'col' }, `Meeting (${room.time_zone})`),
    both ? el('th', { scope: 'col' }, `Your time (${ownZone})`) : null,
    el('th', { scope: 'col' }, 'Status'),
    saved ? el('th', { scope: 'col' }, 'Actions') : null);
  const roomFmt = fmt(room.time_zone);
  const ownFmt = fmt(ownZone);
  ui.body.replaceChildren(...occurrences.map((o) => {
    const when = new Date(o.start);
    const row = el('tr', { class: o.status, 'data-start': o.start },
      el('th', { scope: 'row', class: 'when' }, roomFmt.format(when)),
      both ? el('td', { class: 'when' }, ownFmt.format(when)) : null,
      el('td', { class: 'meeting-state' }, o.status === 'moved' ? `moved from ${roomFmt.format(new Date(o.original_start))}` : o.status));
    if (saved) row.append(el('td', { class: 'actions' }, ...actions(o, roomFmt.format(when))));
    return row;
  }));
}

function actions(o, label) {
  const at = local(o.original_start ?? o.start);
  if (o.status !== 'scheduled') {
    const restore = el('button', { type: 'button', class: 'small', 'aria-label': `Restore the meeting of ${label}` }, 'Restore');
    restore.addEventListener('click', () => change(at, { status: 'scheduled' }, `Restored the meeting of ${label}.`));
    return [restore];
  }
  const cancel = el('button', { type: 'button', class: 'small', 'aria-label': `Cancel the meeting of ${label}` }, 'Cancel');
  cancel.addEventListener('click', () => change(at, { status: 'cancelled' }, `Cancelled the meeting of ${label}.`));
  const move = el('button', { type: 'button', class: 'small', 'aria-label': `Move the meeting of ${label}` }, 'Move');
  move.addEventListener('click', () => {
    const id = `move-${at.replace(/[^0-9]/g, '')}`;
    const input = el('input', { type: 'datetime-local', id, value: at, 'aria-describedby': `${id}-error` });
    const ok = el('button', { type: 'submit', class: 'small primary' }, 'Move here');
    const error = el('p', { id: `${id}-error`, class: 'field-error', hidden: true });
    const form = el('form', { class: 'move-form' }, el('label', { for: id }, 'New time'), input, ok, error);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const done = await change(at, { start: input.value }, `Moved the meeting of ${label}.`, error);
      if (!done) input.focus();
    });
    move.replaceWith(form);
    input.focus();
  });
  return [cancel, move];
}

/** PATCHes one meeting; re-renders the stored list. */
async function change(at, patch, said, errorSlot) {
  try {
    stored = await request('PATCH', `/rooms/${segment(room.id)}/occurrences/${segment(at)}`, patch);
    ctx.say(said);
    await showStored();
    const row = ui.body.querySelector(`tr[data-start^="${CSS.escape(at)}"] button`) ?? ui.title;
    row.focus();
    return true;
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    if (errorSlot) {
      errorSlot.textContent = e.message;
      errorSlot.hidden = false;
    } else {
      ctx.say(`Could not change the meeting: ${e.message}`);
    }
    return false;
  }
}

/** The stored schedule's meetings, from its first, with their actions. */
async function showStored() {
  const from = new Date(Date.parse(`${stored.start}Z`) - 2 * 86400e3).toISOString();
  const to = new Date(Date.parse(`${stored.start}Z`) + 560 * 86400e3).toISOString();
  const list = await request('GET', `/rooms/${segment(room.id)}/occurrences?from=${segment(from)}&to=${segment(to)}`);
  const held = list.filter((o) => o.status !== 'cancelled').length;
  render(list, true);
  ui.note.textContent = `Saved: ${held} meetings${list.length > held ? `, ${list.length - held} cancelled` : ''}.`;
}

async function save(event) {
  event.preventDefault();
  clearTimeout(timer);
  await preview();
  if (!draft) return;
  const exceptions = (stored?.exdates?.length ?? 0) + (stored?.moves?.length ?? 0);
  const changed = stored && (stored.rrule !== draft.rrule || stored.start !== draft.start);
  if (changed && exceptions > 0) {
    const yes = await ctx.confirm({
      title: 'Save the new schedule?',
      text: `The schedule's ${exceptions} cancelled or moved meetings belong to the old one and are cleared.`,
      yes: 'Save schedule',
      back: ui.save,
    });
    if (!yes) return;
  }
  ui.save.disabled = true;
  try {
    const keep = !changed && stored;
    stored = await request('PUT', `/rooms/${segment(room.id)}/schedule`, {
      rrule: draft.rrule,
      start: draft.start,
      duration_minutes: draft.duration_minutes,
      exdates: keep ? stored.exdates : [],
      moves: keep ? stored.moves : [],
    });
    ctx.say(`Saved the schedule of ${room.name}.`);
    await showStored();
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    showErrors(ui.form, e);
  } finally {
    ui.save.disabled = false;
  }
}

/** Opens the schedule of `r`. */
export async function openSchedule(r) {
  room = r;
  stored = null;
  draft = null;
  expert = false;
  ui.advanced.open = false;
  clearErrors(ui.form);
  ui.title.textContent = `Schedule of ${r.name}`;
  ui.body.replaceChildren();
  ui.view.hidden = false;
  ui.title.focus();
  try {
    stored = await request('GET', `/rooms/${segment(r.id)}/schedule`);
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    if (e.status !== 404) ctx.say(`Could not read the schedule: ${e.message}`);
  }
  if (stored) {
    const p = await request('POST', `/rooms/${segment(r.id)}/schedule/preview`, { rrule: stored.rrule, start: stored.start, duration_minutes: stored.duration_minutes, limit: 1 })
      .catch(() => null);
    if (p?.term) fillForm(p.term);
    else {
      expert = true;
      ui.advanced.open = true;
    }
    ui.rrule.value = stored.rrule;
    draft = p;
    await showStored();
  } else {
    // A fresh room: weekly, an hour, from next week on the day it is today.
    const next = new Date(Date.now() + 7 * 86400e3);
    const code = DAYS[(next.getDay() + 6) % 7][0];
    fillForm({ weekdays: [code], time: '18:00', duration_minutes: 60, first: next.toISOString().slice(0, 10), last: null, every_weeks: 1 });
    await preview();
  }
}

export function initSchedule(context) {
  ctx = context;
  ui.form.addEventListener('input', (e) => {
    if (e.target === ui.rrule) expert = true;
    else if (e.target.closest('fieldset, .field-row')) expert = false;
    schedulePreview();
  });
  ui.form.addEventListener('change', schedulePreview);
  ui.form.addEventListener('submit', save);
  ui.back.addEventListener('click', () => {
    ui.view.hidden = true;
    ctx.showRooms(room?.id);
  });
}
