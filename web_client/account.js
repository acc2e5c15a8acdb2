// Change one's own password (other sessions end at once).
import { t, applyI18n, installToggle } from "/static/i18n.js";
import { api } from "/static/account_api.js";

const $ = (id) => document.getElementById(id);
installToggle($("lang"));
applyI18n();
api("/api/me").then((me) => { $("me").textContent = me.email; }).catch(() => {});

$("change").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("error").textContent = ""; $("done").classList.add("hidden");
  if ($("new").value !== $("again").value) { $("error").textContent = t("passwords_differ"); return; }
  try {
    await api("/api/me/password", { method: "POST", body: { current_password: $("current").value, new_password: $("new").value } });
    $("change").reset();
    $("done").classList.remove("hidden");
  } catch (e) { $("error").textContent = e.message; }
});
