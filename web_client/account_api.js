// Shared by the sign-in pages (users, account, set password): JSON calls and clear errors.
import { t } from "/static/i18n.js";
import { send as request } from "/static/http.js";

export class ApiError extends Error {
  constructor(status, data) { super(errorText(status, data)); this.status = status; this.data = data; }
}

// The server's message in the page's language when the error code is known.
export function errorText(status, data = {}) {
  const key = `err_${data.error}`;
  const text = t(key, { seconds: data.retry_after ?? "" });
  if (text !== key) return text;
  if (status === 410) return t("err_gone");
  return data.message || `Error ${status}`;
}

export async function api(path, { method = "GET", body, signInOn401 = true } = {}) {
  const init = { method, headers: {} };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const res = await request(path, init);
  if (res.status === 401 && signInOn401) {
    location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
    throw new Error("not signed in");
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
