// The organiser console's API client. A tab signed in with a key sends it as a bearer token
// (kept in sessionStorage, for this tab only); a browser signed in by a sign-in link sends its
// session cookie, which the server set HttpOnly, so this page never sees it. Failures become
// ApiErrors carrying the problem document's words and its field errors (api.js).

import { call, segment } from './api.js';

const STORAGE = 'cohort-organiser-key';

export { ApiError, segment } from './api.js';

export const storedKey = () => sessionStorage.getItem(STORAGE);
export const keepKey = (key) => sessionStorage.setItem(STORAGE, key);
export const forgetKey = () => sessionStorage.removeItem(STORAGE);

/** Calls /api/v1{path} as this tab is signed in (see `call`). */
export const request = (method, path, body, contentType) => call(method, path, { key: storedKey(), body, contentType });

/** Every page of a paged list (`{ items, next_after }`). */
export async function all(path) {
  const items = [];
  let after = null;
  for (let i = 0; i < 100; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await request('GET', after ? `${path}${sep}after=${segment(after)}` : path);
    items.push(...(page.items ?? []));
    if (!page.next_after) break;
    after = page.next_after;
  }
  return items;
}
