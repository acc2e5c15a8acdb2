// The one fetch helper of every page: state-changing requests carry the session's CSRF token
// (server/security.py). The token comes from GET /api/csrf, which other origins cannot read.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// Authenticated by the invite or self-service token in the URL, or by nothing yet: no CSRF
// token needed (server/security.py CSRF_EXEMPT_PREFIXES).
const EXEMPT = ["/api/login", "/api/join/", "/api/my/"];
let tokenPromise = null;

function csrfToken() {
  if (tokenPromise === null) {
    tokenPromise = fetch("/api/csrf", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : {}))
      .then((b) => b.token || "")
      .catch(() => "");
  }
  return tokenPromise;
}

export async function send(path, init = {}) {
  const method = (init.method || "GET").toUpperCase();
  const headers = new Headers(init.headers || {});
  if (UNSAFE.has(method) && !EXEMPT.some((p) => path.startsWith(p))) headers.set("X-CSRF-Token", await csrfToken());
  return fetch(path, { ...init, method, headers, credentials: "same-origin" });
}

export function sendJson(path, data, method = "POST") {
  return send(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
}

// Only a path on this site (never "//host" or "/\host"): where to go after signing in.
export function localPath(next, fallback = "/") {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return fallback;
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : fallback;
  } catch { return fallback; }
}
