import { applyI18n, installToggle } from "/static/i18n.js";
import { errorText } from "/static/account_api.js";
import { localPath, sendJson } from "/static/http.js";

installToggle(document.getElementById("lang"));
applyI18n();
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const res = await sendJson("/api/login", { email: document.getElementById("email").value, password: document.getElementById("password").value });
  if (!res.ok) { const b = await res.json().catch(() => ({})); document.getElementById("error").textContent = errorText(res.status, b); return; }
  // Only a path on this site: "//host", "/\host" or "https://host" would leave it.
  location.href = localPath(new URLSearchParams(location.search).get("next"));
});
