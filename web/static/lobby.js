// The room before the call: what the invite's room is called, when it next meets, and a waiting
// screen that lets the person in by itself when a scheduled room opens.

import { el, $, announce } from './dom.js';

/**
 * Asks the server about the room behind this link. Resolves with the lobby view, with
 * { error } when the invite is refused, or with null when there is nothing to show (an ad hoc
 * room, or a server that cannot be reached: joining will say what is wrong).
 */
export async function fetchLobby(room, token) {
  const query = token ? `?t=${encodeURIComponent(token)}` : '';
  let res;
  try {
    res = await fetch(`/api/v1/lobby/${encodeURIComponent(room)}${query}`);
  } catch {
    return null;
  }
  if (res.status === 404) return null;
  let body = null;
  try {
    body = await res.json();
  } catch {
    return null;
  }
  if (!res.ok) return { error: body?.detail ?? 'This link does not let you into the room.' };
  // How far the server's clock is ahead of this one, to time the lobby by the server.
  body.skewMs = Date.parse(body.server_time) - Date.now();
  return body;
}

const weekdayTime = (ms) => new Date(ms).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
const timeOnly = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** "in 2 days", "in 5 minutes": the largest whole unit, in the viewer's language. */
export function relative(ms, now = Date.now()) {
  const rtf = new Intl.RelativeTimeFormat([], { numeric: 'auto' });
  const s = Math.round((ms - now) / 1000);
  const units = [['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) {
    if (Math.abs(s) >= size) return rtf.format(Math.round(s / size), unit);
  }
  return rtf.format(Math.max(0, s), 'second');
}

/** One line about the next meeting, in the viewer's local time, or '' without a schedule. */
export function describeMeeting(view, now = Date.now()) {
  const next = view?.next_meeting;
  if (!next) return '';
  const start = Date.parse(next.start);
  const end = Date.parse(next.end);
  const serverNow = now + (view.skewMs ?? 0);
  if (start <= serverNow && serverNow < end) return `Meeting now, until ${timeOnly(end)}`;
  return `Next meeting ${weekdayTime(start)} (${relative(start, serverNow)})`;
}

/** What the room records of who comes, as its pages say before anyone joins ('' for a room
 *  that keeps nothing of its own: an ad hoc one). */
export function recordingNote(view) {
  if (!view?.attendance_mode) return '';
  switch (view.attendance_mode) {
    case 'off': return 'This room keeps no record of who comes to its meetings.';
    case 'talk_time': return 'This room keeps a record of who comes to its meetings: when you join and leave, and how long you speak (heard by the server, never recorded). You can see your own in Meetings.';
    default: return 'This room keeps a record of who comes to its meetings: when you join and leave. You can see your own in Meetings.';
  }
}

/**
 * Shows the waiting screen until `opensAt` (RFC 3339, server time). Resolves true when the room
 * opens, false when the person goes back.
 */
export function waitForOpen(root, title, opensAt, skewMs = 0, note = '') {
  const opens = Date.parse(opensAt);
  const status = el('p', { id: 'lobby-status', role: 'status' });
  const back = el('button', { type: 'button', id: 'lobby-back' }, 'Back');
  root.replaceChildren(el('section', { class: 'message lobby' },
    el('h1', {}, title), status,
    el('p', {}, 'Keep this page open; you will be let in automatically.'),
    note ? el('p', { id: 'recording-note', class: 'lead' }, note) : null, back));
  const render = () => {
    const now = Date.now() + skewMs;
    status.textContent = `The room opens at ${weekdayTime(opens)} (${relative(opens, now)}).`;
  };
  render();
  announce(status.textContent);
  return new Promise((resolve) => {
    const tick = setInterval(render, 15000);
    // A little after the opening, so that the server agrees it is open.
    const wait = Math.max(0, opens - (Date.now() + skewMs)) + 500 + Math.random() * 1500;
    const timer = setTimeout(() => {
      clearInterval(tick);
      resolve(true);
    }, Math.min(wait, 2 ** 31 - 1));
    back.addEventListener('click', () => {
      clearInterval(tick);
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** The meeting-info line on the pre-join screen. */
export function showMeetingInfo(root, text) {
  const line = $('#meeting-info', root);
  if (!line) return;
  line.textContent = text;
  line.hidden = !text;
}
