// A one-time link (/set-password#token) sets an invited or reset user's password.
import { t, applyI18n, installToggle } from "/static/i18n.js";
import { api } from "/static/account_api.js";

const $ = (id) => document.getElementById(id);
installToggle($("lang"));
applyI18n();
const token = location.hash.slice(1);
let email = "";

function fail(e) { $("error").textContent = e.message; }

api("/api/password-links/check", { method: "POST", body: { token }, signInOn401: false })
  .then((info) => { email = info.email; $("who").textContent = t("set_password_for", { email }); })
  .catch((e) => { fail(e); $("submit").disabled = true; });
document.addEventListener("langchange", () => { if (email) $("who").textContent = t("set_password_for", { email }); });

$("set").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("error").textContent = "";
  if ($("new").value !== $("again").value) { $("error").textContent = t("passwords_differ"); return; }
  try {
    await api("/api/password-links/use", { method: "POST", body: { token, password: $("new").value }, signInOn401: false });
    $("submit").disabled = true;
    $("done").classList.remove("hidden");
    history.replaceState(null, "", "/set-password");
  } catch (e) { fail(e); }
});
