// The organiser console: sign in (a sign-in link's session cookie, or an organiser key kept
// for this tab), then manage one's rooms. The server decides what a session may see: an
// organiser only their own rooms, an admin all.

import { $ } from './dom.js';
import { confirmer } from './confirm.js';
import { request, storedKey, keepKey, forgetKey } from './organise-api.js';
import { initRooms, loadRooms } from './organise-rooms.js';

const ui = {
  signin: $('#signin'),
  form: $('#signin-form'),
  key: $('#organiser-key'),
  signInButton: $('#sign-in'),
  signOutButton: $('#sign-out'),
  who: $('#who'),
  console: $('#console'),
  status: $('#status'),
  title: $('#rooms-title'),
  dialog: $('#confirm'),
  confirmTitle: $('#confirm-title'),
  confirmText: $('#confirm-text'),
  confirmYes: $('#confirm-yes'),
  confirmNo: $('#confirm-no'),
};

let me = null; // GET /api/v1/session

function say(text) {
  ui.status.textContent = text;
}

const ask = confirmer({ dialog: ui.dialog, title: ui.confirmTitle, text: ui.confirmText, yes: ui.confirmYes, no: ui.confirmNo });

/** Asks in the page's dialog; resolves true on the confirm button, false on Cancel or Escape.
 *  On Cancel, focus goes back to `back`. */
function confirm({ back, ...q }) {
  return ask(q, (ok) => {
    if (!ok && back?.isConnected) back.focus();
  });
}

function showSignIn(message) {
  me = null;
  ui.console.hidden = true;
  ui.who.hidden = true;
  ui.signOutButton.hidden = true;
  ui.signin.hidden = false;
  if (message) say(message);
}

/** The session ended (or the key was revoked) while the page was open. */
function signedOut(message) {
  forgetKey();
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  showSignIn(`Signed out: ${message}`);
  ui.key.focus();
}

async function enter() {
  me = await request('GET', '/session');
  ui.signin.hidden = true;
  ui.who.textContent = `Signed in as ${me.name}${me.role === 'admin' ? ' (admin: every room)' : ''}`;
  ui.who.hidden = false;
  ui.signOutButton.hidden = false;
  ui.console.hidden = false;
  $('#schedule-view').hidden = true;
  $('#members-view').hidden = true;
  $('#register-view').hidden = true;
  $('#now-view').hidden = true;
  $('#rooms-view').hidden = false;
  await loadRooms();
}

ui.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = ui.key.value.trim();
  if (!key) return;
  keepKey(key);
  ui.signInButton.disabled = true;
  try {
    await enter();
    ui.key.value = '';
    say(`Signed in as ${me.name}.`);
    ui.title.focus();
  } catch (e) {
    forgetKey();
    showSignIn(`Sign-in failed: ${e.message}`);
    ui.key.focus();
  } finally {
    ui.signInButton.disabled = false;
  }
});

ui.signOutButton.addEventListener('click', async () => {
  const viaSession = me?.via === 'session';
  forgetKey();
  if (viaSession) {
    try {
      await request('DELETE', '/session');
    } catch (e) {
      say(`Could not end the session on the server: ${e.message}`);
      return;
    }
  }
  showSignIn('Signed out.');
  ui.key.focus();
});

initRooms({ say, confirm, signedOut });

try {
  await enter();
  say(storedKey() ? '' : `Signed in as ${me.name}.`);
} catch (e) {
  if (storedKey()) forgetKey();
  showSignIn(e.status === 401 ? '' : `Could not reach the server: ${e.message}`);
}
