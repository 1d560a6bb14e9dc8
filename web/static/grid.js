// How the call's tiles are arranged: at most a page of video tiles at a time, the most recent
// speakers first, and a stage for a shared screen or a pinned person with the others in a
// strip beside it. Tiles off the current page are hidden, so the layout reports them unseen and
// the server sends them nothing. Pure arrangement: the Call owns the tiles and says what changed.

import { el } from './dom.js';

/** Tiles per page: `?tiles=N` (1 to 49) when given, else by the window's width. */
export function pageSize(search = location.search, width = innerWidth) {
  const asked = Number(new URLSearchParams(search).get('tiles'));
  if (Number.isInteger(asked) && asked >= 1 && asked <= 49) return asked;
  return width >= 1400 ? 16 : 9;
}

export class Grid {
  /** `grid` is the element the tiles live in; `pager` the element the page controls go in. */
  constructor(grid, pager, size = pageSize()) {
    this.grid = grid;
    this.pager = pager;
    this.size = size;
    this.page = 0;
    this.order = []; // remote participant ids, the most recent speakers first
    this.spoke = new Map(); // participant id -> when the server last heard them
    this.pinned = null;
    const button = (id, label) => el('button', { type: 'button', id, class: 'page-button' }, label);
    this.prev = button('page-prev', 'Previous page');
    this.next = button('page-next', 'Next page');
    this.status = el('span', { id: 'page-status', 'aria-live': 'polite' });
    this.prev.addEventListener('click', () => this.turn(-1));
    this.next.addEventListener('click', () => this.turn(1));
    pager.replaceChildren(this.prev, this.status, this.next);
    pager.hidden = true;
    this.people = () => [];
  }

  /** Where the tiles come from: a function returning [{ id, self, cam, screens }]. */
  source(people) {
    this.people = people;
  }

  joined(id) {
    if (!this.order.includes(id)) this.order.push(id);
  }

  left(id) {
    this.order = this.order.filter((p) => p !== id);
    this.spoke.delete(id);
    if (this.pinned === id) this.pinned = null;
  }

  /** Pins `id` on the stage, or unpins it when it is already there. */
  pin(id) {
    this.pinned = this.pinned === id ? null : id;
  }

  /** Who the server hears speaking: they come onto the first page, in place of whoever on
   * it spoke longest ago. */
  speaking(ids) {
    const now = Date.now();
    for (const id of ids) this.spoke.set(id, now);
    const room = Math.max(this.size - 1, 1); // the first page less our own tile
    for (const id of ids) {
      const at = this.order.indexOf(id);
      if (at < room) continue;
      let oldest = 0;
      for (let i = 1; i < Math.min(room, this.order.length); i++) {
        if ((this.spoke.get(this.order[i]) ?? 0) < (this.spoke.get(this.order[oldest]) ?? 0)) oldest = i;
      }
      [this.order[oldest], this.order[at]] = [this.order[at], this.order[oldest]];
    }
  }

  turn(by) {
    this.page += by;
    this.arrange();
  }

  /** Puts every tile where it belongs and shows or hides it. */
  arrange() {
    const people = new Map(this.people().map((p) => [p.id, p]));
    const self = [...people.values()].find((p) => p.self);
    const screens = [...people.values()].flatMap((p) => [...p.screens.values()].map((s) => s.tile));
    const stage = screens[0] ?? people.get(this.pinned)?.cam.tile ?? null;
    const tiles = [self?.cam.tile, ...screens.slice(1),
      ...this.order.map((id) => people.get(id)?.cam.tile)].filter((t) => t && t !== stage);
    // With a stage, its strip holds a page less the stage.
    const per = Math.max(stage ? this.size - 1 : this.size, 1);
    const pages = Math.max(Math.ceil(tiles.length / per), 1);
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    const shown = new Set(tiles.slice(this.page * per, (this.page + 1) * per));
    if (stage) shown.add(stage);
    this.grid.classList.toggle('has-stage', Boolean(stage));
    const placed = [stage, ...tiles].filter(Boolean);
    placed.forEach((t, i) => {
      if (this.grid.children[i] !== t) this.grid.insertBefore(t, this.grid.children[i] ?? null);
      t.hidden = !shown.has(t);
      t.classList.toggle('on-stage', t === stage);
    });
    for (const p of people.values()) {
      const pin = p.cam.tile.querySelector('.pin');
      if (!pin) continue;
      const on = this.pinned === p.id;
      pin.setAttribute('aria-pressed', String(on));
      pin.setAttribute('aria-label', `${on ? 'Unpin' : 'Pin'} ${p.name}`);
      pin.textContent = on ? 'Unpin' : 'Pin';
    }
    this.pager.hidden = pages < 2;
    this.status.textContent = `Page ${this.page + 1} of ${pages}`;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
  }
}
