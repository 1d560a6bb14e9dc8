// The console's rooms: the list of the organiser's rooms, and the form that creates and edits
// one (name, description, time zone, capacity, how early people may join). Deleting asks first,
// and says what goes with the room. All names enter the page as text.

import { el, $ } from './dom.js';
import { request, all, segment } from './organise-api.js';
import { clearErrors, showErrors, numberOrNull } from './organise-form.js';
import { initSchedule, openSchedule } from './organise-schedule.js';
import { initMembers, openMembers } from './organise-members.js';
import { initRegister, openRegister } from './organise-register.js';
import { initNow, openNow } from './organise-now.js';

const ui = {
  view: $('#rooms-view'),
  list: $('#rooms-list'),
  empty: $('#rooms-empty'),
  title: $('#rooms-title'),
  newRoom: $('#new-room'),
  dialog: $('#room-dialog'),
  form: $('#room-form'),
  formTitle: $('#room-form-title'),
  save: $('#room-save'),
  cancel: $('#room-cancel'),
  name: $('#room-name'),
  description: $('#room-description'),
  zone: $('#room-time-zone'),
  zones: $('#time-zones'),
  capacity: $('#room-capacity'),
  early: $('#room-early'),
};

let ctx = null; // { say, confirm }
let rooms = [];
let editing = null; // the room being edited, or null for a new one
let opener = null; // what opened the dialog, to take focus back to

const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function fillZones() {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const all = zones.includes('UTC') ? zones : ['UTC', ...zones];
  ui.zones.replaceChildren(...all.map((z) => el('option', { value: z })));
}

function card(room) {
  const people = room.capacity === 1 ? '1 person' : `up to ${room.capacity} people`;
  const schedule = el('button', { type: 'button', class: 'primary', 'data-action': 'schedule' }, 'Schedule');
  schedule.setAttribute('aria-label', `Schedule of ${room.name}`);
  schedule.addEventListener('click', () => {
    ui.view.hidden = true;
    openSchedule(room).catch((e) => ctx.say(`Could not open the schedule: ${e.message}`));
  });
  const classList = el('button', { type: 'button', 'data-action': 'members' }, 'Class list');
  classList.setAttribute('aria-label', `Class list of ${room.name}`);
  classList.addEventListener('click', () => {
    ui.view.hidden = true;
    openMembers(room).catch((e) => ctx.say(`Could not open the class list: ${e.message}`));
  });
  const register = el('button', { type: 'button', 'data-action': 'register' }, 'Register');
  register.setAttribute('aria-label', `Register of ${room.name}`);
  register.addEventListener('click', () => {
    ui.view.hidden = true;
    openRegister(room).catch((e) => ctx.say(`Could not open the register: ${e.message}`));
  });
  const now = el('button', { type: 'button', 'data-action': 'now' }, 'Now');
  now.setAttribute('aria-label', `Now in ${room.name}`);
  now.addEventListener('click', () => {
    ui.view.hidden = true;
    openNow(room).catch((e) => ctx.say(`Could not open the now card: ${e.message}`));
  });
  const edit = el('button', { type: 'button', 'data-action': 'edit' }, 'Edit');
  const remove = el('button', { type: 'button', class: 'danger', 'data-action': 'delete' }, 'Delete');
  edit.setAttribute('aria-label', `Edit ${room.name}`);
  remove.setAttribute('aria-label', `Delete ${room.name}`);
  edit.addEventListener('click', () => openForm(room, edit));
  remove.addEventListener('click', () => removeRoom(room, remove));
  return el('li', { class: 'room-card', 'data-room': room.id },
    el('h3', {}, room.name),
    el('p', { class: 'meta' }, `${room.time_zone} · ${people} · join ${room.early_join_minutes} min early`),
    room.description ? el('p', { class: 'description' }, room.description) : null,
    el('div', { class: 'actions' }, schedule, classList, register, now, edit, remove));
}

function render() {
  ui.empty.hidden = rooms.length > 0;
  ui.list.replaceChildren(...rooms.map(card));
}

export async function loadRooms() {
  rooms = await all('/rooms?limit=100');
  rooms.sort((a, b) => a.name.localeCompare(b.name));
  render();
}

function openForm(room, from) {
  editing = room;
  opener = from;
  clearErrors(ui.form);
  ui.formTitle.textContent = room ? `Edit ${room.name}` : 'New room';
  ui.save.textContent = room ? 'Save changes' : 'Create room';
  ui.name.value = room?.name ?? '';
  ui.description.value = room?.description ?? '';
  ui.zone.value = room?.time_zone ?? browserZone();
  ui.capacity.value = room ? String(room.capacity) : '';
  ui.early.value = String(room?.early_join_minutes ?? 10);
  ui.dialog.showModal();
  ui.name.focus();
}

function closeForm() {
  ui.dialog.close();
  (opener?.isConnected ? opener : ui.newRoom).focus();
}

/** What the form says, as the API takes it; for an edit, only what changed. */
function body() {
  const b = {
    name: ui.name.value.trim(),
    description: ui.description.value.trim() || null,
    time_zone: ui.zone.value.trim(),
    capacity: numberOrNull(ui.capacity),
    early_join_minutes: numberOrNull(ui.early) ?? 10,
  };
  if (!editing) {
    if (b.capacity === null) delete b.capacity;
    if (b.description === null) delete b.description;
    return b;
  }
  const changed = {};
  for (const [k, v] of Object.entries(b)) {
    if (k === 'capacity' && v === null) continue;
    if ((editing[k] ?? null) !== v) changed[k] = v;
  }
  return changed;
}

async function save(event) {
  event.preventDefault();
  clearErrors(ui.form);
  const b = body();
  ui.save.disabled = true;
  try {
    if (editing) {
      if (Object.keys(b).length) await request('PATCH', `/rooms/${segment(editing.id)}`, b);
      ctx.say(`Saved ${b.name ?? editing.name}.`);
    } else {
      const room = await request('POST', '/rooms', b);
      ctx.say(`Created ${room.name}.`);
    }
    ui.dialog.close();
    await loadRooms();
    const id = editing?.id;
    const target = id ? ui.list.querySelector(`[data-room="${CSS.escape(id)}"] [data-action="edit"]`) : null;
    (target ?? ui.title).focus();
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    showErrors(ui.form, e);
  } finally {
    ui.save.disabled = false;
  }
}

async function removeRoom(room, from) {
  let members = null;
  try {
    members = (await request('GET', `/rooms/${segment(room.id)}/members`)).length;
  } catch {
    members = null;
  }
  const people = members === null ? 'its members' : members === 1 ? 'its 1 member' : `its ${members} members`;
  const yes = await ctx.confirm({
    title: `Delete ${room.name}?`,
    text: `Deleting ${room.name} deletes its schedule, ${people} and their personal links, its chat, its board and files, its shared notes and its attendance record. Links to it stop working. This cannot be undone.`,
    yes: 'Delete room',
    back: from,
  });
  if (!yes) return;
  try {
    await request('DELETE', `/rooms/${segment(room.id)}`);
    ctx.say(`Deleted ${room.name}.`);
    await loadRooms();
    ui.title.focus();
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    ctx.say(`Could not delete ${room.name}: ${e.message}`);
    from.focus();
  }
}

/** Back from a room's schedule or class list: the list again, focus on that room's button.
 *  Focus moves at once, to the button already listed, so it never rests on the hidden view
 *  while the list reloads; after the reload it goes to the new button, unless the user has
 *  moved it meanwhile. */
async function showRooms(id, action = 'schedule') {
  const button = () => (id && ui.list.querySelector(`[data-room="${CSS.escape(id)}"] [data-action="${action}"]`)) || ui.title;
  ui.view.hidden = false;
  const first = button();
  first.focus();
  await loadRooms().catch((e) => ctx.say(`Could not list the rooms: ${e.message}`));
  const dropped = !first.isConnected && [null, document.body].includes(document.activeElement);
  if (dropped || document.activeElement === first) button().focus();
}

export function initRooms(context) {
  ctx = context;
  initSchedule({ ...context, showRooms });
  initMembers({ ...context, showRooms });
  initRegister({ ...context, showRooms });
  initNow({ ...context, showRooms });
  fillZones();
  ui.newRoom.addEventListener('click', () => openForm(null, ui.newRoom));
  ui.cancel.addEventListener('click', closeForm);
  ui.dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    closeForm();
  });
  ui.form.addEventListener('submit', save);
}
