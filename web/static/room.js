// The room page: pre-join, then the call, with reconnection. Reads the room from /r/{room} and
// an optional invite token from ?t=..., which it passes on join.

import { el, $, announce } from './dom.js';
import { Signaling, PROTOCOL_VERSION } from './signaling.js';
import { Publisher, Subscriber } from './media.js';
import { IceRecovery } from './recovery.js';
import { mark } from './timeline.js';
import { Prejoin } from './prejoin.js';
import { Call } from './call.js';
import { Chat, fetchEarlier } from './chat.js';
import { fetchLobby, describeMeeting, recordingNote, waitForOpen } from './lobby.js';
import { RoomHome } from './roomhome.js';
import { Board } from './board.js';
import { Notes } from './notes.js';
import { Meetings } from './meetings.js';

const app = $('#app');
const room = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const token = new URLSearchParams(location.search).get('t');
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/rtc`;
const DEVICE_KEY = 'cohort.device';

/** This browser's device id (kept in localStorage): who a guest is, from one visit to the next. */
function guestDevice() {
  const fresh = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      id = fresh();
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    // Storage refused (a private window): a guest for this visit only.
    return fresh();
  }
}

const FATAL = {
  room_full: 'This room is full. Try again when someone leaves.',
  invalid_room: 'This is not a valid room link.',
  invalid_name: 'Please use a name of 1 to 64 characters.',
  forbidden: 'This link does not let you into the room. Ask the organiser for a new one.',
  too_many_rooms: 'The server is hosting as many rooms as it can. Try again later.',
  draining: 'The server is restarting. Try again in a minute.',
  unsupported_version: 'This page is out of date. Reload it.',
};
// Refusals whose server text says best what to do; a retry would not change them.
const FATAL_AS_SAID = new Set(['invite_required', 'invite_invalid', 'invite_expired', 'no_such_room', 'room_closed']);
const LEAVE_REASONS = {
  server_shutdown: 'The server is restarting. Rejoin in a moment.',
  removed: 'You were removed from the call.',
  room_closed: 'The room was closed.',
  replaced: 'You joined from somewhere else.',
};

const state = {
  name: '', mic: null, cam: null, screen: null, msid: {},
  sig: null, pub: null, sub: null, recovery: null, call: null, chat: null, joined: null, lobby: null, notes: null,
  leaving: false, reconnecting: false, ended: false,
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function supported() {
  return Boolean(window.RTCPeerConnection && navigator.mediaDevices?.getUserMedia && window.WebSocket);
}

function endScreen(text) {
  state.ended = true;
  state.notes?.close();
  const again = el('button', { type: 'button', id: 'rejoin', class: 'primary' }, 'Rejoin');
  again.addEventListener('click', () => location.reload());
  app.replaceChildren(el('section', { class: 'message' }, el('h1', {}, 'Cohort'), el('p', { role: 'status' }, text), again));
}

/** Opens signaling and joins; throws an Error a person can read. */
async function connect() {
  const sig = new Signaling(wsUrl);
  try {
    await sig.open();
  } catch {
    throw new Error('Cannot reach the server. Check your connection and try again.');
  }
  mark('ws-open');
  const join = { type: 'join', v: PROTOCOL_VERSION, room, name: state.name, device: guestDevice() };
  if (token) join.token = token;
  sig.send(join);
  try {
    const { type, msg } = await sig.next(['joined', 'error']);
    if (type === 'error') {
      const err = new Error(FATAL[msg.code] ?? msg.message);
      err.fatal = Boolean(FATAL[msg.code]) || FATAL_AS_SAID.has(msg.code);
      err.code = msg.code;
      err.opensAt = msg.opens_at;
      throw err;
    }
    mark('joined');
    return { sig, joined: msg };
  } catch (e) {
    sig.close();
    throw e;
  }
}

function wire(sig) {
  const on = (type, fn) => sig.addEventListener(type, (e) => fn(e.detail));
  on('participant_joined', (m) => state.call.addParticipant(m.participant));
  on('participant_left', (m) => state.call.removeParticipant(m.participant_id));
  on('track_published', (m) => state.call.trackPublished(m.participant_id, m.track));
  on('track_unpublished', (m) => state.call.trackUnpublished(m.participant_id, m.track_id));
  on('track_muted', (m) => state.call.trackMuted(m.participant_id, m.track_id, m.muted));
  on('muted_by_admin', (m) => mutedByAdmin(m.track_id));
  on('active_speakers', (m) => state.call.setSpeakers(m.participant_ids));
  on('connection_quality', (m) => state.call.setQuality(m.participants));
  on('chat', (m) => state.chat.add(m));
  on('chat_updated', (m) => state.chat.update(m));
  on('board_item', (m) => state.board?.put(m.item));
  on('board_removed', (m) => state.board?.remove(m.id));
  on('error', (m) => announce(m.message));
  on('leave', (m) => {
    state.leaving = true;
    teardown();
    endScreen(LEAVE_REASONS[m.reason] ?? 'The call ended.');
  });
  on('closed', () => reconnect());
}

async function startSession(sig, joined) {
  state.sig = sig;
  state.joined = joined;
  state.call.reset(joined, state.name);
  state.chat.reset(joined.chat ?? [], joined.more_chat);
  roomPanels(joined);
  wire(sig);
  const onState = (s) => state.recovery?.state(s);
  state.sub = new Subscriber(sig, (track, pid) => state.call.attach(track, pid), onState);
  state.pub = new Publisher(sig, onState, { simulcast: Boolean(joined.simulcast) });
  state.recovery = new IceRecovery(state.pub, state.sub, () => reconnect(), (text) => state.call.banner(text));
  const list = [];
  if (state.mic) list.push({ track: state.mic, source: 'microphone', key: 'mic' });
  if (state.cam) list.push({ track: state.cam, source: 'camera', key: 'cam' });
  if (state.screen) list.push({ track: state.screen, source: 'screen', key: 'screen' });
  state.msid = {};
  const ids = await state.pub.add(list);
  list.forEach((item, i) => { state.msid[item.key] = ids[i]; });
  showLocal();
}

/** A stored room's notes, board and meetings, as side panels of the call. */
function roomPanels(joined) {
  state.call.showRoomPanels(Boolean(joined.room_id));
  if (!joined.room_id) return;
  const ctx = {
    roomId: joined.room_id,
    token,
    device: guestDevice(),
    self: () => ({ identity: state.joined?.identity, host: Boolean(state.joined?.host), name: state.name }),
  };
  state.board ??= new Board(state.call.panel('board'), ctx);
  state.meetings ??= new Meetings(state.call.panel('meetings'), ctx);
  state.notes ??= new Notes(state.call.panel('notes'), { ...ctx, meeting: () => state.lobby?.next_meeting?.start ?? null });
  // Again after a reconnection: what changed while away.
  state.board.load();
}

function showLocal() {
  state.call.setLocal({ cam: state.cam, camOn: Boolean(state.cam), micOn: Boolean(state.mic), screen: state.screen });
}

function teardown() {
  state.recovery?.close();
  state.sig?.close();
  state.pub?.close();
  state.sub?.close();
  state.sig = state.pub = state.sub = state.recovery = null;
}

async function reconnect() {
  if (state.reconnecting || state.leaving || state.ended) return;
  state.reconnecting = true;
  state.call.banner('Reconnecting…');
  teardown();
  const deadline = Date.now() + 60000;
  let delay = 300;
  while (Date.now() < deadline && !state.leaving) {
    try {
      const { sig, joined } = await connect();
      await startSession(sig, joined);
      state.call.banner(null);
      announce('Reconnected');
      state.reconnecting = false;
      return;
    } catch (e) {
      teardown();
      if (e.fatal) {
        state.reconnecting = false;
        endScreen(e.message);
        return;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
  }
  state.reconnecting = false;
  state.call.banner('The connection to the call was lost.', () => reconnect());
}

async function capture(kind) {
  const stream = await navigator.mediaDevices.getUserMedia({ [kind]: true });
  return stream.getTracks()[0];
}

/** Turns the microphone ('mic') or camera ('cam') on or off. */
async function toggle(key) {
  if (!state.pub) return; // reconnecting: the controls wait for the call to be back
  const kind = key === 'mic' ? 'audio' : 'video';
  const label = key === 'mic' ? 'microphone' : 'camera';
  if (state[key]) {
    state[key].stop();
    state[key] = null;
    if (state.msid[key]) {
      await state.pub.replace(state.msid[key], null);
      state.pub.setMuted(state.msid[key], true);
    }
  } else {
    let track;
    try {
      track = await capture(kind);
    } catch {
      announce(`Your ${label} is not available.`);
      return;
    }
    state[key] = track;
    if (state.msid[key]) {
      await state.pub.replace(state.msid[key], track);
      state.pub.setMuted(state.msid[key], false);
    } else {
      [state.msid[key]] = await state.pub.add([{ track, source: key === 'mic' ? 'microphone' : 'camera' }]);
    }
  }
  showLocal();
}

/** An admin turned one of our tracks off: do as the mute button would, and say so. */
async function mutedByAdmin(trackId) {
  const key = Object.keys(state.msid).find((k) => state.msid[k] === trackId);
  if (!key) return;
  const what = { mic: 'microphone', cam: 'camera', screen: 'screen share' }[key];
  if (key === 'screen') {
    if (state.screen) await stopShare();
  } else if (state[key]) {
    await toggle(key);
  }
  announce(`An admin turned off your ${what}.`);
}

async function toggleShare() {
  if (!state.pub) return;
  if (state.screen) {
    await stopShare();
    return;
  }
  let track;
  try {
    // Slides and code: sharp text matters more than motion, and a still screen needs few
    // frames (the browser sends fewer while nothing changes).
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    track = stream.getVideoTracks()[0];
    if ('contentHint' in track) track.contentHint = 'detail';
  } catch {
    announce('Screen sharing was cancelled.');
    return;
  }
  state.screen = track;
  track.addEventListener('ended', () => stopShare());
  [state.msid.screen] = await state.pub.add([{ track, source: 'screen' }]);
  showLocal();
}

async function stopShare() {
  if (!state.screen) return;
  state.screen.stop();
  state.screen = null;
  const id = state.msid.screen;
  delete state.msid.screen;
  if (id) await state.pub?.remove(id);
  showLocal();
}

function leave() {
  state.leaving = true;
  state.sig?.send({ type: 'leave' });
  teardown();
  for (const t of [state.mic, state.cam, state.screen]) t?.stop();
  state.call.destroy();
  endScreen('You left the call.');
}

/** Stops the camera and microphone while waiting, remembering which devices they were. */
function releaseDevices() {
  const kept = {};
  for (const key of ['mic', 'cam']) {
    if (state[key]) {
      kept[key] = state[key].getSettings().deviceId ?? null;
      state[key].stop();
      state[key] = null;
    }
  }
  return kept;
}

/** Turns the remembered devices back on; a device that fails stays off. */
async function reacquire(kept) {
  for (const [key, deviceId] of Object.entries(kept)) {
    const kind = key === 'mic' ? 'audio' : 'video';
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ [kind]: deviceId ? { deviceId: { exact: deviceId } } : true });
      state[key] = stream.getTracks()[0];
    } catch {
      state[key] = null;
    }
  }
}

/** connect(), waiting in the lobby while a scheduled room is closed; throws if the person goes back. */
async function connectWhenOpen(title, skewMs, note) {
  for (;;) {
    try {
      return await connect();
    } catch (e) {
      if (e.code !== 'room_closed' || !e.opensAt) throw e;
      const kept = releaseDevices();
      const opened = await waitForOpen(app, title, e.opensAt, skewMs, note);
      if (!opened) throw new Error('');
      await reacquire(kept);
    }
  }
}

/** What the call's chat panel does; editing, deleting and paging only in a stored room. */
function chatActions() {
  const stored = () => Boolean(state.joined?.room_id);
  return {
    send: (text) => Boolean(state.sig?.send({ type: 'chat', text })),
    edit: (id, text) => stored() && state.sig?.send({ type: 'chat_edit', id, text }),
    remove: (id) => stored() && state.sig?.send({ type: 'chat_delete', id }),
    earlier: (before) => (stored() ? fetchEarlier(state.joined.room_id, token, guestDevice(), before) : null),
    self: () => ({
      identity: state.joined?.identity,
      host: Boolean(state.joined?.host),
      participantId: state.joined?.participant_id,
    }),
  };
}

async function main() {
  if (!supported()) {
    app.replaceChildren(el('section', { class: 'message' }, el('h1', {}, 'Cohort'),
      el('p', { role: 'alert' }, 'This browser cannot join calls: it lacks WebRTC or camera access. Use a current Firefox, Chrome, Edge or Safari, over https or on this computer.')));
    return;
  }
  const lobby = await fetchLobby(room, token);
  state.lobby = lobby;
  const title = lobby?.name ?? room;
  document.title = `${title} · Cohort`;
  // A stored room opens on its home: its chat, live, and the next meeting; Join leads on.
  if (lobby?.room_id) {
    const home = new RoomHome(app, { room, token, device: guestDevice(), lobby, wsUrl });
    await home.show();
    home.close();
  }
  let message = lobby?.error ?? '';
  for (;;) {
    const choice = await new Prejoin(app, title, describeMeeting(lobby), recordingNote(lobby)).show(message);
    Object.assign(state, { name: choice.name, mic: choice.mic, cam: choice.cam });
    try {
      const { sig, joined } = await connectWhenOpen(title, lobby?.skewMs ?? 0, recordingNote(lobby));
      state.call = new Call(app, {
        toggleMic: () => toggle('mic'),
        toggleCam: () => toggle('cam'),
        toggleShare,
        leave,
        layout: (tracks) => state.sig?.send({ type: 'layout', tracks }),
        chatVisible: (v) => state.chat.setVisible(v),
        panelShown: (which) => {
          if (which === 'meetings') state.meetings?.load();
          if (which === 'notes') state.notes?.show();
        },
      });
      state.chat = new Chat(state.call.chatPanel, $('#unread'), chatActions());
      await startSession(sig, joined);
      return;
    } catch (e) {
      for (const t of [state.mic, state.cam]) t?.stop();
      teardown();
      message = e.message;
    }
  }
}

main();
