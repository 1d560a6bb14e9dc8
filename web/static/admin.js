// The admin page: sign in with an admin key, then watch this node and its live rooms, open a
// room's participants, and mute a track, remove a participant or close a room. Refreshes itself
// every 2 s while the tab is visible. All names and ids enter the page as text.

import { el, $ } from './dom.js';
import { confirmer } from './confirm.js';
import {
  integer, oneDecimal, meetingFormat, timeFormat, clockFormat, isNumber, formatBitrate, formatLoss, ms, count, plural, isAuthError, request, segment,
} from './admin-lib.js';

const STORAGE = 'cohort-admin-key';
const REFRESH_MS = 2000;
const COLUMNS = 7;

const ui = {
  signin: $('#signin'),
  form: $('#signin-form'),
  key: $('#admin-key'),
  signInButton: $('#sign-in'),
  signOutButton: $('#sign-out'),
  dashboard: $('#dashboard'),
  status: $('#admin-status'),
  nodeTitle: $('#node-title'),
  node: $('#node-summary'),
  draining: $('#draining'),
  roomsTitle: $('#rooms-title'),
  updated: $('#updated'),
  empty: $('#rooms-empty'),
  table: $('#rooms-table'),
  body: $('#rooms-body'),
  dialog: $('#confirm'),
  confirmTitle: $('#confirm-title'),
  confirmText: $('#confirm-text'),
  confirmYes: $('#confirm-yes'),
  confirmNo: $('#confirm-no'),
};

const state = {
  key: null,
  epoch: 0, // bumped on every sign-in and sign-out: answers to an older epoch are dropped
  timer: null,
  busy: false, // a refresh is in flight
  again: false, // refresh again as soon as the one in flight ends
  failing: false, // the last refresh failed (said once, not every 2 s)
  cpu: null, // { seconds, at, text }: the CPU sample the next percentage is measured from
  open: new Set(), // slugs whose participants are shown
  rooms: new Map(), // slug -> the room's rows and cells
};

let nextId = 0;

// ---------------------------------------------------------------------------------------------
// Status, focus and the confirmation dialog

/** Shows a line in the polite live region. */
function say(text) {
  ui.status.textContent = text;
}

/** What has focus inside the rooms table, by identity rather than by element. */
function focusKey() {
  const a = document.activeElement;
  if (!a || !ui.body.contains(a)) return null;
  return {
    el: a,
    room: a.closest('tr[data-room]')?.dataset.room ?? a.closest('tr[data-details-for]')?.dataset.detailsFor,
    participant: a.closest('tr[data-participant]')?.dataset.participant,
    action: a.dataset.action,
    track: a.dataset.track,
  };
}

/** Puts focus back where it was, or on the closest thing that still exists. */
function restoreFocus(k) {
  if (!k || ui.dashboard.hidden || ui.dialog.open) return;
  if (k.el.isConnected && !k.el.disabled) {
    if (document.activeElement !== k.el) k.el.focus();
    return;
  }
  const current = document.activeElement;
  if (current && current !== document.body) return; // focus went somewhere on purpose
  const v = state.rooms.get(k.room);
  let target = null;
  if (v) {
    const p = k.participant ? v.people.get(k.participant) : null;
    if (p && !v.details.hidden) {
      const track = k.track ? `[data-track="${CSS.escape(k.track)}"]` : '';
      if (k.action) target = p.row.querySelector(`button[data-action="${k.action}"]${track}`);
      target ??= p.nameCell;
    } else if (k.action === 'close') {
      target = v.closeButton;
    } else {
      target = v.detailsButton;
    }
  }
  (target ?? ui.roomsTitle).focus();
}

const ask = confirmer({ dialog: ui.dialog, title: ui.confirmTitle, text: ui.confirmText, yes: ui.confirmYes, no: ui.confirmNo });

/** Asks in the page's dialog; resolves true on the confirm button, false on Cancel or Escape. */
function confirmAction(q) {
  const back = focusKey();
  return ask(q, () => restoreFocus(back));
}

/** Confirms, calls the API, says what happened, and refreshes. */
async function act(question, method, path, done, failed) {
  const epoch = state.epoch;
  const yes = await confirmAction(question);
  if (epoch !== state.epoch) return; // signed out meanwhile
  if (!yes) {
    say('Nothing was changed.');
    return;
  }
  try {
    await request(state.key, method, path);
    if (epoch !== state.epoch) return;
    say(done);
  } catch (e) {
    if (epoch !== state.epoch) return;
    if (isAuthError(e)) {
      signOut(`Signed out: ${e.message}.`);
      return;
    }
    say(`${failed}: ${e.message}.`);
  }
  refreshNow();
}

// ---------------------------------------------------------------------------------------------
// Rendering. Rows are kept per room slug and participant id, and updated in place, so that a
// refresh neither steals focus nor swallows a click.

const painted = new WeakMap(); // node -> the key of what it shows

/** Replaces node's children by build()'s only when `key` differs from what it shows. */
function paint(node, key, build) {
  if (painted.get(node) === key) return;
  painted.set(node, key);
  node.replaceChildren(...[build()].flat().filter((c) => c !== null && c !== undefined));
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setAttr(node, name, value) {
  const v = value === null || value === undefined ? null : String(value);
  if (v === null) node.removeAttribute(name);
  else if (node.getAttribute(name) !== v) node.setAttribute(name, v);
}

function renderNode(n) {
  const now = performance.now();
  let cpu = state.cpu?.text ?? '—';
  if (!isNumber(n.cpu_seconds)) {
    cpu = '—';
  } else if (!state.cpu || n.cpu_seconds < state.cpu.seconds) {
    state.cpu = { seconds: n.cpu_seconds, at: now, text: '—' };
    cpu = '—';
  } else if (now - state.cpu.at >= 1000) {
    // Between two samples at least a second apart: CPU time used over wall time, per core.
    const cores = Math.max(1, n.cpu_cores || 1);
    const share = (n.cpu_seconds - state.cpu.seconds) / ((now - state.cpu.at) / 1000) / cores;
    cpu = `${oneDecimal.format(share * 100)} %`;
    state.cpu = { seconds: n.cpu_seconds, at: now, text: cpu };
  }
  const stats = [
    ['rooms', 'Rooms', count(n.rooms)],
    ['participants', 'Participants', count(n.participants)],
    ['sessions', 'Sessions', count(n.websocket_sessions)],
    ['cpu', isNumber(n.cpu_cores) ? `CPU (${plural(n.cpu_cores, 'core', 'cores')})` : 'CPU', cpu],
    ['memory', 'Memory', isNumber(n.resident_memory_bytes) ? `${integer.format(Math.round(n.resident_memory_bytes / 1048576))} MiB` : '—'],
    ['fds', 'Open files', count(n.open_fds)],
    ['peers', 'Peer connections', count(n.peer_connections)],
  ];
  paint(ui.node, JSON.stringify(stats), () => stats.map(([id, label, value]) =>
    el('div', { class: 'stat', 'data-stat': id }, el('dt', {}, label), el('dd', {}, value))));
  ui.draining.hidden = !n.draining;
}

const roomLabel = (r) => r.name ?? r.room;

function nextMeeting(o) {
  if (!o) return '—';
  const start = Date.parse(o.start);
  const end = Date.parse(o.end);
  if (Number.isNaN(start)) return '—';
  const now = Date.now();
  let text = start <= now && now < end ? `Now, until ${timeFormat.format(end)}` : meetingFormat.format(start);
  if (o.status === 'moved') text += ' (moved)';
  if (o.status === 'cancelled') text += ' (cancelled)';
  return el('time', { datetime: o.start }, text);
}

function makeRoom(slug) {
  const id = `room-details-${(nextId += 1)}`;
  const v = { slug, data: null, people: new Map() };
  v.nameCell = el('th', { scope: 'row', class: 'room-cell' });
  v.countCell = el('td', { class: 'num' });
  v.inCell = el('td', { class: 'num' });
  v.outCell = el('td', { class: 'num' });
  v.lossCell = el('td', { class: 'num' });
  v.nextCell = el('td');
  v.detailsButton = el('button', { type: 'button', 'data-action': 'details', 'aria-expanded': 'false', 'aria-controls': id }, 'Details');
  v.closeButton = el('button', { type: 'button', class: 'danger', 'data-action': 'close' }, 'Close room');
  v.row = el('tr', { 'data-room': slug },
    v.nameCell, v.countCell, v.inCell, v.outCell, v.lossCell, v.nextCell,
    el('td', { class: 'actions' }, v.detailsButton, v.closeButton));

  v.caption = el('caption');
  v.peopleBody = el('tbody');
  v.nobody = el('tr', { class: 'nobody' }, el('td', { colspan: 6 }, 'Nobody is in this room.'));
  v.details = el('tr', { class: 'details', id, 'data-details-for': slug, hidden: true },
    el('td', { colspan: COLUMNS },
      el('table', { class: 'admin-table people' },
        v.caption,
        el('thead', {}, el('tr', {},
          ...['Name', 'Tracks', 'Bitrate in / out', 'Upstream', 'Downstream', 'Actions']
            .map((h) => el('th', { scope: 'col' }, h)))),
        v.peopleBody)));

  v.detailsButton.addEventListener('click', () => {
    if (state.open.has(slug)) state.open.delete(slug);
    else state.open.add(slug);
    updateRoom(v, v.data);
  });
  v.closeButton.addEventListener('click', () => {
    const r = v.data;
    const label = roomLabel(r);
    const n = r.participants.length;
    act({
      title: `Close room ${label}?`,
      text: `${n === 0 ? 'Nobody is in it.' : `${plural(n, 'person', 'people')} will be disconnected and told that the room was closed.`} The room can be used again later.`,
      yes: 'Close room',
    }, 'POST', `/admin/rooms/${segment(slug)}/close`, `Closed room ${label}`, `Could not close room ${label}`);
  });
  return v;
}

function updateRoom(v, r) {
  v.data = r;
  const label = roomLabel(r);
  const n = r.participants.length;
  paint(v.nameCell, JSON.stringify([r.name, r.room]), () => (r.name
    ? [el('span', { class: 'room-name' }, r.name), ' ', el('span', { class: 'slug' }, r.room)]
    : el('span', { class: 'slug' }, r.room)));
  setText(v.countCell, isNumber(r.capacity) ? `${integer.format(n)} / ${integer.format(r.capacity)}` : integer.format(n));
  setAttr(v.countCell, 'data-count', n);
  setText(v.inCell, formatBitrate(r.inbound_bitrate_bps));
  setAttr(v.inCell, 'data-inbound-bps', isNumber(r.inbound_bitrate_bps) ? r.inbound_bitrate_bps : null);
  setText(v.outCell, formatBitrate(r.outbound_bitrate_bps));
  setAttr(v.outCell, 'data-outbound-bps', isNumber(r.outbound_bitrate_bps) ? r.outbound_bitrate_bps : null);
  setText(v.lossCell, formatLoss(r.loss));
  paint(v.nextCell, JSON.stringify([r.next_occurrence, Math.floor(Date.now() / 60000)]), () => nextMeeting(r.next_occurrence));
  setAttr(v.detailsButton, 'aria-label', `Details for ${label}`);
  setAttr(v.closeButton, 'aria-label', `Close room ${label}`);
  setText(v.caption, `Participants in ${label}`);

  const open = state.open.has(v.slug);
  setAttr(v.detailsButton, 'aria-expanded', open);
  v.details.hidden = !open;
  if (open) renderPeople(v, r);
}

function makePerson(v, pid) {
  const p = { id: pid, data: null };
  p.nameCell = el('th', { scope: 'row', class: 'person', tabindex: '-1' });
  p.tracksCell = el('td');
  p.rateCell = el('td', { class: 'num' });
  p.upCell = el('td', { 'data-link': 'publish' });
  p.downCell = el('td', { 'data-link': 'subscribe' });
  p.removeButton = el('button', { type: 'button', class: 'danger', 'data-action': 'remove' }, 'Remove');
  p.row = el('tr', { 'data-participant': pid },
    p.nameCell, p.tracksCell, p.rateCell, p.upCell, p.downCell, el('td', { class: 'actions' }, p.removeButton));
  p.removeButton.addEventListener('click', () => {
    const name = p.data.name;
    act({
      title: `Remove ${name}?`,
      text: `${name} will be disconnected from ${roomLabel(v.data)} and told that they were removed.`,
      yes: 'Remove',
    }, 'DELETE', `/admin/rooms/${segment(v.slug)}/participants/${segment(pid)}`, `Removed ${name}`, `Could not remove ${name}`);
  });
  return p;
}

/** "audio", "video", or "video 2" when a participant sends two of a kind. */
function trackNames(tracks) {
  const kind = (t) => String(t.kind || 'track');
  const total = {};
  for (const t of tracks) total[kind(t)] = (total[kind(t)] ?? 0) + 1;
  const seen = {};
  return tracks.map((t) => {
    const k = kind(t);
    seen[k] = (seen[k] ?? 0) + 1;
    return total[k] > 1 ? `${k} ${seen[k]}` : k;
  });
}

function tracksList(v, p, person) {
  if (person.tracks.length === 0) return el('span', { class: 'quiet' }, 'No tracks');
  const names = trackNames(person.tracks);
  return el('ul', { class: 'tracks' }, person.tracks.map((t, i) => {
    const what = names[i];
    let mute = null;
    if (!t.muted) {
      mute = el('button', {
        type: 'button', class: 'small', 'data-action': 'mute', 'data-track': t.id,
        'aria-label': `Mute ${person.name}'s ${what}`,
      }, 'Mute');
      mute.addEventListener('click', () => {
        const name = p.data.name;
        act({
          title: `Mute ${name}'s ${what}?`,
          text: `${name} will be told that an admin turned their ${what} off. They can turn it on again.`,
          yes: 'Mute',
        }, 'POST', `/admin/rooms/${segment(v.slug)}/tracks/${segment(t.id)}/mute`, `Muted ${name}'s ${what}`, `Could not mute ${name}'s ${what}`);
      });
    }
    return el('li', { class: 'track', 'data-track': t.id, 'data-kind': t.kind, 'data-muted': String(Boolean(t.muted)) },
      el('span', { class: 'track-kind' }, what[0].toUpperCase() + what.slice(1)), ' ',
      t.codec ? el('span', { class: 'quiet' }, t.codec) : null, t.codec ? ' ' : null,
      el('span', { class: t.muted ? 'track-state muted' : 'track-state live' }, t.muted ? 'muted' : 'on'),
      mute ? ' ' : null, mute);
  }));
}

/**
 * What a participant is sent of the others' videos, as "layers 1/3 ×2, paused ×1": each track's
 * layer (1 is the lowest) of how many it has, counted.
 */
function receivingSummary(receiving) {
  const counts = new Map();
  for (const r of receiving ?? []) {
    const key = r.layer === null || r.layer === undefined ? 'paused' : `layer ${r.layer + 1}/${r.layers}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ×${n}`).join(', ');
}

/**
 * A connection's state and figures: "connected", then loss, jitter, (downstream) RTT, the
 * downlink estimate and what else the caller adds.
 */
function linkCell(cell, link, withRtt, extra = []) {
  const l = { ...link, state: link?.state ?? 'none' };
  const rtt = withRtt ? ms(l.rtt_seconds) : null;
  setAttr(cell, 'data-state', l.state);
  setAttr(cell, 'data-rtt-ms', rtt === null ? null : Math.round(l.rtt_seconds * 1e4) / 10);
  const figures = [];
  if (isNumber(l.loss)) figures.push(`loss ${formatLoss(l.loss)}`);
  const jitter = ms(l.jitter_seconds);
  if (jitter !== null) figures.push(`jitter ${jitter} ms`);
  if (rtt !== null) figures.push(`RTT ${rtt} ms`);
  setAttr(cell, 'data-estimate-bps', isNumber(l.estimate_bps) ? l.estimate_bps : null);
  if (isNumber(l.estimate_bps)) figures.push(`estimate ${formatBitrate(l.estimate_bps)}`);
  figures.push(...extra.filter(Boolean));
  paint(cell, JSON.stringify([l.state, figures]), () => [
    el('span', { class: `link-state state-${l.state}` }, l.state),
    figures.length ? ' ' : null,
    figures.length ? el('span', { class: 'link-figures' }, figures.join(', ')) : null,
  ]);
}

function updatePerson(v, p, person) {
  p.data = person;
  setText(p.nameCell, person.name);
  paint(p.tracksCell, JSON.stringify([person.name, person.tracks]), () => tracksList(v, p, person));
  setText(p.rateCell, `${formatBitrate(person.inbound_bitrate_bps)} / ${formatBitrate(person.outbound_bitrate_bps)}`);
  setAttr(p.rateCell, 'data-inbound-bps', isNumber(person.inbound_bitrate_bps) ? person.inbound_bitrate_bps : null);
  setAttr(p.rateCell, 'data-outbound-bps', isNumber(person.outbound_bitrate_bps) ? person.outbound_bitrate_bps : null);
  linkCell(p.upCell, person.publish, false);
  linkCell(p.downCell, person.subscribe, true, [receivingSummary(person.receiving)]);
  setAttr(p.removeButton, 'aria-label', `Remove ${person.name}`);
}

/** Puts `nodes` in `parent` in this order, moving only what is out of place. */
function order(parent, nodes) {
  nodes.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild.remove();
}

function renderPeople(v, r) {
  const seen = new Set();
  const rows = r.participants.map((person) => {
    seen.add(person.id);
    let p = v.people.get(person.id);
    if (!p) {
      p = makePerson(v, person.id);
      v.people.set(person.id, p);
    }
    updatePerson(v, p, person);
    return p.row;
  });
  for (const id of [...v.people.keys()]) if (!seen.has(id)) v.people.delete(id);
  order(v.peopleBody, rows.length ? rows : [v.nobody]);
}

function renderRooms(list) {
  const focus = focusKey();
  const seen = new Set();
  const rows = [];
  for (const r of list) {
    seen.add(r.room);
    let v = state.rooms.get(r.room);
    if (!v) {
      v = makeRoom(r.room);
      state.rooms.set(r.room, v);
    }
    updateRoom(v, r);
    rows.push(v.row, v.details);
  }
  for (const slug of [...state.rooms.keys()]) {
    if (!seen.has(slug)) {
      state.rooms.delete(slug);
      state.open.delete(slug);
    }
  }
  order(ui.body, rows);
  ui.table.hidden = list.length === 0;
  ui.empty.hidden = list.length !== 0;
  restoreFocus(focus);
}

function clearDashboard() {
  state.rooms.clear();
  state.open.clear();
  ui.body.replaceChildren();
  ui.node.replaceChildren();
  painted.delete(ui.node);
  ui.draining.hidden = true;
  ui.updated.textContent = '';
  ui.table.hidden = true;
  ui.empty.hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Refreshing: a chain of timeouts, one request pair at a time, paused while the tab is hidden.

function schedule(delay) {
  clearTimeout(state.timer);
  state.timer = null;
  if (!state.key || document.hidden) return;
  state.timer = setTimeout(() => refresh(), delay);
}

/** Refreshes at once, or right after the refresh in flight. */
function refreshNow(force = false) {
  if (state.busy) {
    state.again = true;
    return;
  }
  clearTimeout(state.timer);
  state.timer = null;
  refresh(force);
}

async function refresh(force = false) {
  state.timer = null;
  if (!state.key || state.busy || (document.hidden && !force)) return;
  const { epoch, key } = state;
  state.busy = true;
  try {
    const [node, rooms] = await Promise.all([
      request(key, 'GET', '/admin/node'),
      request(key, 'GET', '/admin/rooms'),
    ]);
    if (epoch !== state.epoch) return;
    renderNode(node);
    renderRooms(rooms);
    ui.updated.textContent = `Updated ${clockFormat.format(Date.now())}`;
    if (state.failing) say('The server answers again.');
    state.failing = false;
  } catch (e) {
    if (epoch !== state.epoch) return;
    if (isAuthError(e)) {
      signOut(`Signed out: ${e.message}.`);
      return;
    }
    if (!state.failing) say(`Could not refresh: ${e.message}. Retrying.`);
    state.failing = true;
  } finally {
    if (epoch === state.epoch) {
      state.busy = false;
      const again = state.again;
      state.again = false;
      schedule(again ? 0 : REFRESH_MS);
    }
  }
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    clearTimeout(state.timer);
    state.timer = null;
  } else if (state.key && !state.busy) {
    refreshNow();
  }
});

// ---------------------------------------------------------------------------------------------
// Signing in and out

function storage(action, value) {
  try {
    if (action === 'get') return sessionStorage.getItem(STORAGE);
    if (action === 'set') sessionStorage.setItem(STORAGE, value);
    if (action === 'remove') sessionStorage.removeItem(STORAGE);
  } catch {
    // Storage is off: the key lives as long as the page.
  }
  return null;
}

function startSession(key) {
  Object.assign(state, { key, epoch: state.epoch + 1, busy: false, again: false, failing: false, cpu: null });
  clearTimeout(state.timer);
  clearDashboard();
  storage('set', key);
  ui.key.value = '';
  ui.signin.hidden = true;
  ui.dashboard.hidden = false;
  ui.signOutButton.hidden = false;
  refreshNow(true);
}

function signOut(message) {
  Object.assign(state, { key: null, epoch: state.epoch + 1, busy: false, again: false, failing: false, cpu: null });
  clearTimeout(state.timer);
  state.timer = null;
  storage('remove');
  if (ui.dialog.open) ui.dialog.close();
  clearDashboard();
  ui.dashboard.hidden = true;
  ui.signOutButton.hidden = true;
  ui.signin.hidden = false;
  say(message);
  ui.key.focus();
}

ui.form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = ui.key.value.trim();
  if (!key) {
    say('Enter the admin key.');
    ui.key.focus();
    return;
  }
  ui.signInButton.disabled = true;
  say('Signing in…');
  try {
    await request(key, 'GET', '/admin/node'); // a key that may not read this is refused here
    startSession(key);
    say('Signed in.');
    ui.nodeTitle.focus();
  } catch (err) {
    say(isAuthError(err) ? `Sign-in failed: ${err.message}.` : `Could not sign in: ${err.message}.`);
    ui.key.focus();
    ui.key.select();
  } finally {
    ui.signInButton.disabled = false;
  }
});

ui.signOutButton.addEventListener('click', () => signOut('Signed out.'));

const saved = storage('get');
if (saved) startSession(saved);
