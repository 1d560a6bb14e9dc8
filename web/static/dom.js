// Small DOM helpers. User text only ever enters the page through text nodes (never innerHTML).

/** Creates an element with attributes and children; strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on')) throw new Error('use addEventListener, not ' + key);
    node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Up to two initials of a display name, for tiles without video. */
export function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => Array.from(w)[0] ?? '');
  return (letters.join('') || '?').toUpperCase();
}

/** A time of day in the viewer's locale, from milliseconds since the epoch. */
export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Shows a status line that screen readers announce. */
export function announce(text) {
  const live = $('#live');
  if (live) live.textContent = text;
}
