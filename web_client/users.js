// Admins invite, disable, enable and delete users and hand out password-reset links.
import { t, applyI18n, installToggle } from "/static/i18n.js";
import { api } from "/static/account_api.js";

const $ = (id) => document.getElementById(id);
installToggle($("lang"));
applyI18n();
document.addEventListener("langchange", () => refresh());

function showLink(data) {
  $("link-label").textContent = t("link_created", { at: new Date(data.expires_at).toLocaleString() });
  $("link-url").value = data.link_url;
  $("link").classList.remove("hidden");
  $("link-url").select();
}

async function act(fn) {
  $("error").textContent = "";
  try { await fn(); await refresh(); } catch (e) { $("error").textContent = e.message; }
}

function button(key, onClick) {
  const b = document.createElement("button");
  b.type = "button"; b.dataset.i18n = key; b.textContent = t(key);
  b.addEventListener("click", onClick);
  return b;
}

async function refresh() {
  const [me, users, notices] = await Promise.all([api("/api/me"), api("/api/users"), api("/api/admin/notices")]);
  $("users").innerHTML = "";
  for (const u of users) {
    const tr = document.createElement("tr");
    tr.dataset.email = u.email;
    for (const text of [u.email, u.name, t(`role_${u.role}`) === `role_${u.role}` ? u.role : t(`role_${u.role}`),
      t(u.disabled ? "user_disabled" : u.has_password ? "user_active" : "user_invited")]) {
      const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
    }
    const actions = document.createElement("td");
    actions.appendChild(button("reset_password", () => act(async () => showLink(await api(`/api/users/${u.id}/password-link`, { method: "POST" })))));
    if (u.id !== me.id) {
      actions.appendChild(u.disabled
        ? button("enable", () => act(() => api(`/api/users/${u.id}/enable`, { method: "POST" })))
        : button("disable", () => { if (confirm(t("confirm_disable_user"))) act(() => api(`/api/users/${u.id}/disable`, { method: "POST" })); }));
      actions.appendChild(button("delete", () => { if (confirm(t("confirm_delete_user"))) act(() => api(`/api/users/${u.id}`, { method: "DELETE" })); }));
    }
    tr.appendChild(actions);
    $("users").appendChild(tr);
  }
  $("notices").innerHTML = "";
  for (const n of notices) {
    const li = document.createElement("li");
    li.textContent = `${new Date(n.at).toLocaleString()} · ${n.subject} — ${n.body}`;
    $("notices").appendChild(li);
  }
  if (!notices.length) { const li = document.createElement("li"); li.className = "muted"; li.textContent = t("no_notices"); $("notices").appendChild(li); }
}

$("invite").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act(async () => {
    const data = await api("/api/users", { method: "POST", body: { email: $("email").value, name: $("name").value, role: $("role").value } });
    showLink(data);
    $("invite").reset();
  });
});

refresh().catch((e) => { $("error").textContent = e.message; });
