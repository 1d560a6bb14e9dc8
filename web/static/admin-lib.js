// The admin page's formatting of figures and its API client (admin-key bearer auth, RFC 9457
// problems turned into errors that carry the server's words).

import { call } from './api.js';

// ---------------------------------------------------------------------------------------------
// Formatting

export const integer = new Intl.NumberFormat([], { maximumFractionDigits: 0 });
export const oneDecimal = new Intl.NumberFormat([], { minimumFractionDigits: 1, maximumFractionDigits: 1 });
export const meetingFormat = new Intl.DateTimeFormat([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
export const timeFormat = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' });
export const clockFormat = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

/** 850 kbit/s, 1.2 Mbit/s; "—" when unknown. */
export function formatBitrate(bps) {
  if (!isNumber(bps)) return '—';
  if (bps >= 1e6) return `${oneDecimal.format(bps / 1e6)} Mbit/s`;
  return `${integer.format(Math.round(bps / 1000))} kbit/s`;
}

/** A fraction 0..1 as a percentage with one decimal; "—" when unknown. */
export function formatLoss(loss) {
  return isNumber(loss) ? `${oneDecimal.format(loss * 100)} %` : '—';
}

/** Seconds as milliseconds: one decimal under 10 ms, whole above; null when unknown. */
export function ms(seconds) {
  if (!isNumber(seconds)) return null;
  const v = seconds * 1000;
  return v < 10 ? oneDecimal.format(v) : integer.format(Math.round(v));
}

/** A count, or "—" when the server did not say. */
export function count(n) {
  return isNumber(n) ? integer.format(n) : '—';
}

export function plural(n, one, many) {
  return `${integer.format(n)} ${n === 1 ? one : many}`;
}

// ---------------------------------------------------------------------------------------------
// The API

export { ApiError, segment } from './api.js';

export const isAuthError = (e) => e?.status === 401 || e?.status === 403;

/** Calls /api/v1{path} with the admin key (see api.js's `call`). */
export const request = (key, method, path) => call(method, path, { key });
