import { applyI18n, installToggle, lang } from "/static/i18n.js";
import { errorText } from "/static/account_api.js";
import { localPath, sendJson } from "/static/http.js";

installToggle(document.getElementById("lang"));
applyI18n();
// Which sign-in methods this deployment offers (server/routes/sso.py).
fetch("/api/sso/providers").then((r) => r.json()).then((p) => {
  const $ = (id) => document.getElementById(id);
  $("sso").classList.toggle("hidden", !(p.oidc || p.wecom));
  $("sso-oidc").classList.toggle("hidden", !p.oidc);
  $("sso-wecom").classList.toggle("hidden", !p.wecom);
  $("sso-wecom").href = `/sso/wecom/start?lang=${lang}`;
  if (!p.password) {
    for (const id of ["email", "password"]) $(id).closest("p").classList.add("hidden");
    document.querySelector("#login button[type=submit]").classList.add("hidden");
  }
}).catch(() => {});
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const res = await sendJson("/api/login", { email: document.getElementById("email").value, password: document.getElementById("password").value });
  if (!res.ok) { const b = await res.json().catch(() => ({})); document.getElementById("error").textContent = errorText(res.status, b); return; }
  // Only a path on this site: "//host", "/\host" or "https://host" would leave it.
  location.href = localPath(new URLSearchParams(location.search).get("next"));
});
