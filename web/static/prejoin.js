// The pre-join screen: name, live camera preview, microphone level, device pickers, and whether
// to join with camera and microphone on. Resolves with what the person chose.

import { el, $ } from './dom.js';
import { mark, restartAfter } from './timeline.js';

const NAME_KEY = 'cohort.name';

function describe(err) {
  if (!err) return '';
  if (err.name === 'NotAllowedError') return 'blocked by the browser';
  if (err.name === 'NotFoundError' || err.name === 'OverconstrainedError') return 'not found';
  if (err.name === 'NotReadableError') return 'in use by another program';
  return 'unavailable';
}

export class Prejoin {
  constructor(root, room, info = '', note = '') {
    this.root = root;
    this.room = room;
    this.info = info;
    this.note = note;
    this.cam = null;
    this.mic = null;
    this.meterStop = null;
    this.done = false;
  }

  /** Shows the screen; resolves on Join with { name, cam, mic } (tracks may be null). */
  show(message = '') {
    const saved = localStorage.getItem(NAME_KEY) ?? '';
    this.root.replaceChildren(
      el('h1', {}, 'Join ', el('span', { class: 'room-name' }, this.room)),
      el('p', { id: 'meeting-info', class: 'meeting-info', hidden: !this.info }, this.info),
      this.note ? el('p', { id: 'recording-note', class: 'lead' }, this.note) : null,
      el('form', { id: 'prejoin-form', class: 'prejoin' },
        el('div', { class: 'preview' },
          el('video', { id: 'preview', autoplay: true, muted: true, playsinline: true, 'aria-label': 'Your camera preview' }),
          el('p', { id: 'preview-off', class: 'preview-off', hidden: true }, 'Camera off')),
        el('div', { class: 'fields' },
          el('label', { for: 'name' }, 'Your name'),
          el('input', { id: 'name', name: 'name', required: true, maxlength: '64', autocomplete: 'name', value: saved }),
          el('label', { for: 'camera-select' }, 'Camera'),
          el('select', { id: 'camera-select' }),
          el('label', { for: 'mic-select' }, 'Microphone'),
          el('select', { id: 'mic-select' }),
          el('label', { for: 'mic-level' }, 'Microphone level'),
          el('meter', { id: 'mic-level', min: '0', max: '1', value: '0' }),
          el('div', { class: 'toggles' },
            el('label', {}, el('input', { type: 'checkbox', id: 'cam-on', checked: true }), ' Join with camera on'),
            el('label', {}, el('input', { type: 'checkbox', id: 'mic-on', checked: true }), ' Join with microphone on')),
          el('p', { id: 'prejoin-status', class: 'status', role: 'status' }, message),
          el('button', { type: 'submit', id: 'join', class: 'primary', disabled: true, 'aria-describedby': 'prejoin-status' }, 'Join'))),
    );
    $('#cam-on', this.root).addEventListener('change', (e) => this.setKind('video', e.target.checked));
    $('#mic-on', this.root).addEventListener('change', (e) => this.setKind('audio', e.target.checked));
    $('#camera-select', this.root).addEventListener('change', () => this.setKind('video', true));
    $('#mic-select', this.root).addEventListener('change', () => this.setKind('audio', true));
    this.acquire(message);
    return new Promise((resolve) => {
      $('#prejoin-form', this.root).addEventListener('submit', (e) => {
        e.preventDefault();
        const name = $('#name', this.root).value.trim();
        if (!name) {
          this.status('Please enter your name.');
          return;
        }
        localStorage.setItem(NAME_KEY, name);
        restartAfter('media');
        mark('click');
        this.done = true;
        this.stopMeter();
        const choice = { name, cam: this.cam, mic: this.mic };
        this.cam = null;
        this.mic = null;
        resolve(choice);
      });
    });
  }

  status(text) {
    const s = $('#prejoin-status', this.root);
    if (s) s.textContent = text;
  }

  /** Asks for camera and microphone once; Join is enabled when the answer is in. */
  async acquire(message) {
    this.status('Asking for your camera and microphone…');
    const problems = [];
    for (const kind of ['audio', 'video']) {
      const err = await this.setKind(kind, true, false);
      if (err) problems.push(`Your ${kind === 'audio' ? 'microphone' : 'camera'} is ${describe(err)}.`);
    }
    mark('media');
    await this.fillPickers();
    if (problems.length) problems.push(`You can join without ${problems.length > 1 ? 'them' : 'it'}.`);
    // A message from the last attempt (a full room, say) comes first.
    this.status([message, ...problems].filter(Boolean).join(' '));
    const join = $('#join', this.root);
    if (join) join.disabled = false;
  }

  /** Turns one kind on (with the picked device) or off. Returns the error, if any. */
  async setKind(kind, on, report = true) {
    const current = kind === 'video' ? this.cam : this.mic;
    current?.stop();
    if (kind === 'video') this.cam = null; else this.mic = null;
    if (!on) {
      this.render();
      return null;
    }
    const picked = $(kind === 'video' ? '#camera-select' : '#mic-select', this.root)?.value;
    const constraints = picked ? { deviceId: { exact: picked } } : true;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
      const track = stream.getTracks()[0];
      if (this.done) {
        // Join was pressed meanwhile: this device was not part of the choice.
        track.stop();
        return null;
      }
      if (kind === 'video') this.cam = track; else this.mic = track;
      this.render();
      return null;
    } catch (err) {
      const box = $(kind === 'video' ? '#cam-on' : '#mic-on', this.root);
      if (box) box.checked = false;
      if (report) this.status(`Your ${kind === 'audio' ? 'microphone' : 'camera'} is ${describe(err)}. You can join without it.`);
      this.render();
      return err;
    }
  }

  async fillPickers() {
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    for (const [kind, sel, track] of [['videoinput', '#camera-select', this.cam], ['audioinput', '#mic-select', this.mic]]) {
      const select = $(sel, this.root);
      if (!select) continue;
      const list = devices.filter((d) => d.kind === kind);
      select.replaceChildren(...list.map((d, i) => el('option', { value: d.deviceId }, d.label || `Device ${i + 1}`)));
      const active = track?.getSettings().deviceId;
      if (active) select.value = active;
      select.disabled = list.length === 0;
    }
  }

  render() {
    const video = $('#preview', this.root);
    if (!video) return;
    video.srcObject = this.cam ? new MediaStream([this.cam]) : null;
    $('#preview-off', this.root).hidden = Boolean(this.cam);
    this.stopMeter();
    if (this.mic) this.startMeter(this.mic);
  }

  startMeter(track) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const meter = $('#mic-level', this.root);
    const timer = setInterval(() => {
      analyser.getByteTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += ((v - 128) / 128) ** 2;
      if (meter) meter.value = Math.min(1, Math.sqrt(sum / data.length) * 4);
    }, 100);
    this.meterStop = () => {
      clearInterval(timer);
      ctx.close();
    };
  }

  stopMeter() {
    this.meterStop?.();
    this.meterStop = null;
  }
}
