// The console's "now" card for one room: the meeting under way (or the next), who is in the
// call and for how long, who is speaking, their microphone and camera, talk time where the room
// keeps it, and a link into the call as host. It asks the server every few seconds while it is
// shown, and stops when it is left. Names enter the page as text.

import { el, $ } from './dom.js';
import { request, segment } from './organise-api.js';

const ui = {
  view: $('#now-view'),
  title: $('#now-title'),
  back: $('#now-back'),
  meeting: $('#now-meeting'),
  count: $('#now-count'),
  join: $('#now-join'),
  table: $('#now-table'),
  body: $('#now-body'),
  empty: $('#now-empty'),
  talkHead: $('#now-talk-head'),
};

const EVERY_MS = 3000;

let ctx = null; // { say, signedOut, showRooms }
let room = null;
let timer = null;

function span(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

function meetingLine(live) {
  const m = live.meeting;
  if (!m) return 'No meeting on the schedule.';
  const zone = room.time_zone;
  const at = (t, o) => new Intl.DateTimeFormat([], { timeZone: zone, ...o }).format(new Date(t));
  const clock = { hour: '2-digit', minute: '2-digit' };
  if (live.under_way) return `Meeting under way: ${at(m.start, clock)} to ${at(m.end, clock)} (${zone}).`;
  return `Next meeting: ${at(m.start, { weekday: 'long', day: 'numeric', month: 'long', ...clock })} (${zone}).`;
}

function row(p, talk) {
  const yes = (on, word) => el('td', {}, on ? word : 'Off');
  const cells = [
    el('th', { scope: 'row' }, p.name),
    el('td', {}, p.host ? 'Host' : p.identity.startsWith('member:') ? 'Member' : 'Guest'),
    el('td', {}, span(p.seconds_in)),
    el('td', { class: p.speaking ? 'speaking' : '' }, p.speaking ? 'Speaking' : '–'),
    yes(p.microphone, 'On'),
    yes(p.camera, 'On'),
  ];
  if (talk) cells.push(el('td', {}, span(p.seconds_talking ?? 0)));
  return el('tr', { 'data-identity': p.identity, 'data-speaking': String(p.speaking) }, ...cells);
}

async function refresh() {
  let live;
  try {
    live = await request('GET', `/rooms/${segment(room.id)}/live`);
  } catch (e) {
    stop();
    if (e.status === 401) return ctx.signedOut(e.message);
    ui.count.textContent = `Could not read who is in: ${e.message}`;
    return;
  }
  const talk = live.people.some((p) => p.seconds_talking !== undefined);
  ui.talkHead.hidden = !talk;
  ui.meeting.textContent = meetingLine(live);
  const n = live.people.length;
  const speaking = live.people.filter((p) => p.speaking).map((p) => p.name);
  ui.count.textContent = n
    ? `${n} in the call${live.capacity ? ` (room for ${live.capacity})` : ''}${speaking.length ? `; speaking: ${speaking.join(', ')}` : ''}.`
    : '';
  ui.empty.hidden = n > 0;
  ui.table.hidden = n === 0;
  ui.body.replaceChildren(...live.people.map((p) => row(p, talk)));
}

function stop() {
  clearInterval(timer);
  timer = null;
}

export async function openNow(r) {
  room = r;
  stop();
  ui.title.textContent = `Now in ${r.name}`;
  ui.meeting.textContent = '';
  ui.count.textContent = 'Loading…';
  ui.body.replaceChildren();
  ui.join.hidden = true;
  ui.view.hidden = false;
  ui.title.focus();
  // The host link goes straight into the call; made once per visit, it expires as invites do.
  request('POST', `/rooms/${segment(r.id)}/invites`, { role: 'host' })
    .then((v) => {
      ui.join.href = v.url;
      ui.join.hidden = false;
    })
    .catch((e) => (e.status === 401 ? ctx.signedOut(e.message) : ctx.say(`Could not make the host link: ${e.message}`)));
  await refresh();
  timer = setInterval(() => {
    if (ui.view.closest('[hidden]')) stop(); // left, or signed out
    else refresh();
  }, EVERY_MS);
}

export function initNow(context) {
  ctx = context;
  ui.back.addEventListener('click', () => {
    stop();
    ui.view.hidden = true;
    ctx.showRooms(room?.id, 'now');
  });
}
