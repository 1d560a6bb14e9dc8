// The organiser console's API client. A tab signed in with a key sends it as a bearer token
// (kept in sessionStorage, for this tab only); a browser signed in by a sign-in link sends its
// session cookie, which the server set HttpOnly, so this page never sees it. Failures become
// ApiErrors carrying the problem document's words and its field errors.

const STORAGE = 'cohort-organiser-key';

export class ApiError extends Error {
  constructor(status, message, fields = []) {
    super(message);
    this.status = status;
    /** [{ field, message }] from the problem document. */
    this.fields = fields;
  }
}

export const segment = encodeURIComponent;

export const storedKey = () => sessionStorage.getItem(STORAGE);
export const keepKey = (key) => sessionStorage.setItem(STORAGE, key);
export const forgetKey = () => sessionStorage.removeItem(STORAGE);

/** Calls /api/v1{path}; resolves with the JSON body (null for 204), or throws an ApiError. The
 *  body is sent as JSON, or as it is with `contentType` (a CSV class list). */
export async function request(method, path, body, contentType) {
  const headers = { accept: 'application/json, application/problem+json' };
  const key = storedKey();
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = contentType ?? 'application/json';
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined || contentType ? body : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'cannot reach the server; nothing was saved');
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const fields = Array.isArray(data?.errors) ? data.errors : [];
    throw new ApiError(res.status, data?.detail || data?.title || `the server answered ${res.status}`, fields);
  }
  return data;
}

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
