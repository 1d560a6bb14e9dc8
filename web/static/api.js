// The pages' API client: calls /api/v1 with a bearer key (or, with none, the browser's session
// cookie), and turns an RFC 9457 problem into an ApiError carrying the server's words and its
// field errors. Shared by the admin page and the organiser console.

export class ApiError extends Error {
  constructor(status, message, fields = []) {
    super(message);
    this.status = status;
    /** [{ field, message }] from the problem document. */
    this.fields = fields;
  }
}

export const segment = encodeURIComponent;

/** Calls /api/v1{path}; resolves with the JSON body (null for 204), or the body as text with
 *  `text` (a CSV file), or throws an ApiError. The body is sent as JSON, or as it is with
 *  `contentType` (a CSV class list). */
export async function call(method, path, { key, body, contentType, text = false } = {}) {
  const headers = { accept: 'application/json, application/problem+json' };
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
    throw new ApiError(0, 'cannot reach the server');
  }
  if (res.status === 204) return null;
  if (text && res.ok) return res.text();
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
