// The console's class list of one room: its members, one added at a time or from a CSV class
// list (checked first by the server's own dry run: who would be added, who refused and why),
// each person's personal link copied or revoked, and the room's class, host and calendar links.
// Names and emails enter the page as text.

import { el, $ } from './dom.js';
import { request, segment } from './organise-api.js';
import { clearErrors, showErrors } from './organise-form.js';

const ui = {
  view: $('#members-view'),
  title: $('#members-title'),
  back: $('#members-back'),
  classLink: $('#copy-class-link'),
  hostLink: $('#copy-host-link'),
  calendarLink: $('#copy-calendar-link'),
  download: $('#download-links'),
  copied: $('#copied'),
  summary: $('#members-summary'),
  body: $('#members-body'),
  addForm: $('#member-form'),
  name: $('#member-name'),
  email: $('#member-email'),
  role: $('#member-role'),
  importForm: $('#import-form'),
  csv: $('#import-csv'),
  file: $('#import-file'),
  preview: $('#import-preview'),
  verdict: $('#import-verdict'),
  refused: $('#import-refused'),
  go: $('#import-go'),
};

let ctx = null; // { say, confirm, signedOut, showRooms }
let room = null;
let members = [];
let checked = null; // the CSV text the last dry run was for

const fail = (e, what) => (e.status === 401 ? ctx.signedOut(e.message) : ctx.say(`${what}: ${e.message}`));

/** Shows `url` in the page (always) and puts it on the clipboard (when the browser lets us). */
async function copy(url, said) {
  ui.copied.value = url;
  try {
    await navigator.clipboard.writeText(url);
    ctx.say(`${said} copied.`);
  } catch {
    ui.copied.focus();
    ui.copied.select();
    ctx.say(`${said} is in the field "Last link copied": the browser did not allow copying.`);
  }
}

const invite = (role) => request('POST', `/rooms/${segment(room.id)}/invites`, { role });
const personal = (m) => request('POST', `/rooms/${segment(room.id)}/members/${segment(m.id)}/invites`, {});

function row(m) {
  const link = el('button', { type: 'button', class: 'small', 'aria-label': `Copy ${m.display_name}'s link` }, 'Copy link');
  link.addEventListener('click', () => personal(m).then((v) => copy(v.url, `${m.display_name}'s link`)).catch((e) => fail(e, 'Could not make the link')));
  const revoke = el('button', { type: 'button', class: 'small', 'aria-label': `Revoke ${m.display_name}'s links` }, 'Revoke links');
  revoke.addEventListener('click', async () => {
    const yes = await ctx.confirm({ title: `Revoke ${m.display_name}'s links?`, text: `Every personal link of ${m.display_name} stops working at once, and an open call with one is ended. A new link can be copied afterwards.`, yes: 'Revoke links', back: revoke });
    if (!yes) return;
    try {
      await request('POST', `/rooms/${segment(room.id)}/members/${segment(m.id)}/revoke-links`);
      ctx.say(`${m.display_name}'s links were revoked.`);
      revoke.focus();
    } catch (e) {
      fail(e, 'Could not revoke the links');
    }
  });
  const remove = el('button', { type: 'button', class: 'small danger', 'aria-label': `Remove ${m.display_name}` }, 'Remove');
  remove.addEventListener('click', async () => {
    const yes = await ctx.confirm({ title: `Remove ${m.display_name}?`, text: `${m.display_name} leaves the class list and their links stop working. What they wrote and their attendance stay.`, yes: 'Remove', back: remove });
    if (!yes) return;
    try {
      await request('DELETE', `/rooms/${segment(room.id)}/members/${segment(m.id)}`);
      ctx.say(`${m.display_name} was removed.`);
      await load();
      ui.title.focus();
    } catch (e) {
      fail(e, 'Could not remove them');
    }
  });
  return el('tr', { 'data-member': m.id },
    el('th', { scope: 'row' }, m.display_name),
    el('td', {}, m.email ?? '—'),
    el('td', {}, m.role),
    el('td', { class: 'actions' }, link, ' ', revoke, ' ', remove));
}

async function load() {
  members = await request('GET', `/rooms/${segment(room.id)}/members`);
  const hosts = members.filter((m) => m.role === 'host').length;
  ui.summary.textContent = `${members.length} members${hosts ? `, ${hosts} of them hosts` : ''}.`;
  ui.body.replaceChildren(...members.map(row));
}

async function add(event) {
  event.preventDefault();
  clearErrors(ui.addForm);
  const body = { display_name: ui.name.value.trim(), role: ui.role.value };
  if (ui.email.value.trim()) body.email = ui.email.value.trim();
  try {
    const m = await request('POST', `/rooms/${segment(room.id)}/members`, body);
    ctx.say(`${m.display_name} was added.`);
    ui.name.value = '';
    ui.email.value = '';
    await load();
    ui.name.focus();
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    showErrors(ui.addForm, e);
  }
}

/** Sends the class list to the import, as a dry run or for real. */
const sendCsv = (dryRun) => request('POST', `/rooms/${segment(room.id)}/members/import${dryRun ? '?dry_run=true' : ''}`, ui.csv.value, 'text/csv');

async function check(event) {
  event.preventDefault();
  clearErrors(ui.importForm);
  ui.preview.hidden = true;
  try {
    const report = await sendCsv(true);
    checked = ui.csv.value;
    const n = report.added.length;
    ui.verdict.textContent = `${n} would be added${report.refused.length ? `; ${report.refused.length} refused:` : '.'}`;
    ui.refused.replaceChildren(...report.refused.map((r) => el('li', {}, `line ${r.line}: ${r.reason}`)));
    ui.go.textContent = `Import ${n} ${n === 1 ? 'member' : 'members'}`;
    ui.go.disabled = n === 0;
    ui.preview.hidden = false;
    ui.verdict.tabIndex = -1;
    ui.verdict.focus();
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    showErrors(ui.importForm, e);
  }
}

async function importList() {
  if (ui.csv.value !== checked) {
    ui.preview.hidden = true;
    ctx.say('The list changed since it was checked: check it again.');
    return;
  }
  try {
    const report = await sendCsv(false);
    ctx.say(`Imported ${report.added.length} members${report.refused.length ? `; ${report.refused.length} refused` : ''}.`);
    ui.preview.hidden = true;
    ui.csv.value = '';
    checked = null;
    await load();
    ui.title.focus();
  } catch (e) {
    if (e.status === 401) return ctx.signedOut(e.message);
    showErrors(ui.importForm, e);
  }
}

/** Everyone's personal links, made now, as a CSV file to download (formula-guarded). */
async function downloadLinks() {
  const cell = (v) => {
    let t = String(v ?? '');
    if (/^[=+\-@\t\r]/.test(t)) t = `'${t}`;
    return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  try {
    const lines = ['name,email,role,link'];
    for (const m of members) {
      const v = await personal(m);
      lines.push([m.display_name, m.email, m.role, v.url].map(cell).join(','));
    }
    const blob = new Blob([`${lines.join('\r\n')}\r\n`], { type: 'text/csv' });
    const a = el('a', { href: URL.createObjectURL(blob), download: `${room.slug}-links.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    ctx.say(`Links for ${members.length} members downloaded.`);
  } catch (e) {
    fail(e, 'Could not make the links');
  }
}

export async function openMembers(r) {
  room = r;
  checked = null;
  ui.title.textContent = `Class list of ${r.name}`;
  ui.copied.value = '';
  ui.preview.hidden = true;
  clearErrors(ui.addForm);
  clearErrors(ui.importForm);
  ui.view.hidden = false;
  ui.title.focus();
  await load();
}

export function initMembers(context) {
  ctx = context;
  ui.back.addEventListener('click', () => {
    ui.view.hidden = true;
    ctx.showRooms(room?.id, 'members');
  });
  ui.addForm.addEventListener('submit', add);
  ui.importForm.addEventListener('submit', check);
  ui.go.addEventListener('click', importList);
  ui.file.addEventListener('change', async () => {
    const f = ui.file.files?.[0];
    if (f) ui.csv.value = await f.text();
  });
  ui.classLink.addEventListener('click', () => invite('participant').then((v) => copy(v.url, 'The class link')).catch((e) => fail(e, 'Could not make the link')));
  ui.hostLink.addEventListener('click', () => invite('host').then((v) => copy(v.url, 'The host link')).catch((e) => fail(e, 'Could not make the link')));
  ui.calendarLink.addEventListener('click', () => invite('participant')
    .then((v) => copy(`${room.calendar_url}?t=${encodeURIComponent(v.token)}`, 'The calendar link'))
    .catch((e) => fail(e, 'Could not make the link')));
  ui.download.addEventListener('click', downloadLinks);
}
