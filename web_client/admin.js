import { t, applyI18n, installToggle, lang } from "/static/i18n.js";
import { send } from "/static/http.js";
import { showKeys } from "/static/keys_panel.js";
import { showHooks } from "/static/hooks_panel.js";

const $ = (id) => document.getElementById(id);
installToggle($("lang"));
applyI18n();

async function api(path, body) {
  const res = await send(path, body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {});
  if (res.status === 401) { location.href = `/login?next=${encodeURIComponent(location.pathname)}`; throw new Error("not signed in"); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.message || `Error ${res.status}`);
  return data;
}

let me = null;
// The server decides (server/policy.py); this only chooses which controls to show.
const may = (action) => !!me && (me.can || []).includes(action);

async function refresh() {
  me = await api("/api/me");
  $("me").textContent = `${me.email} · ${t(`role_${me.role}`)}`;
  $("jobs-link").classList.toggle("hidden", !may("jobs.list"));
  $("users-link").classList.toggle("hidden", !may("users.manage"));
  $("templates-link").classList.toggle("hidden", !may("users.manage"));
  $("audit-link").classList.toggle("hidden", !may("audit.read"));
  $("create-card").classList.toggle("hidden", !(may("job.interview.create") && may("candidates.create")));
  $("list-card").classList.toggle("hidden", !may("interviews.list"));
  if (may("erasure.manage")) await loadErasures();
  if (may("keys.manage")) showKeys().catch((e) => { $("key-error").textContent = e.message; });
  if (may("webhooks.manage")) showHooks().catch((e) => { $("hook-error").textContent = e.message; });
  if (!may("interviews.list")) return;
  const rows = await api("/api/interviews");
  $("list").innerHTML = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td></td><td></td><td><span class="badge"></span></td><td><a data-i18n="observe"></a> · <a data-i18n="review"></a></td>`;
    tr.children[0].textContent = r.candidate_name;
    tr.children[1].textContent = r.job_title;
    tr.querySelector(".badge").textContent = t(`iv_${r.status}`);
    const [obs, rev] = tr.querySelectorAll("a");
    obs.href = `/observe/${r.id}`; rev.href = `/review/${r.id}`;
    if (!may("interview.read")) { rev.previousSibling.remove(); rev.remove(); }
    $("list").appendChild(tr);
  }
  applyI18n($("list"));
}

$("create").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("error").textContent = "";
  try {
    const body = { title: $("job").value, language: $("language").value };
    if ($("template").value) body.template = $("template").value;
    const job = await api("/api/jobs", body);
    const cand = await api("/api/candidates", { name: $("cand").value, email: $("cand-email").value });
    const iv = await api("/api/interviews", { job_id: job.id, candidate_id: cand.id });
    $("invite-url").href = iv.invite_url; $("invite-url").textContent = iv.invite_url;
    $("rights-url").href = iv.rights_url; $("rights-url").textContent = iv.rights_url;
    $("invite").classList.remove("hidden");
    refresh();
  } catch (e) { $("error").textContent = e.message; }
});
// Candidates' deletion requests: an admin confirms one, or it runs after the configured delay.
async function loadErasures() {
  const pending = (await api("/api/erasure-requests")).filter((r) => r.status === "pending");
  $("erasure-box").classList.toggle("hidden", !pending.length);
  $("erasures").replaceChildren();
  for (const r of pending) {
    const tr = document.createElement("tr");
    tr.dataset.request = r.id;
    const who = document.createElement("td"), due = document.createElement("td"), act = document.createElement("td");
    who.textContent = r.candidate_name || r.subject_id;
    due.textContent = t("er_due", { at: new Date(r.due_at).toLocaleString() });
    const button = document.createElement("button");
    button.textContent = t("er_confirm");
    button.addEventListener("click", async () => {
      if (!confirm(t("er_confirm_q"))) return;
      try { await api(`/api/erasure-requests/${r.id}/confirm`, {}); await refresh(); } catch (e) { $("erasure-error").textContent = e.message; }
    });
    act.append(button);
    tr.append(who, due, act);
    $("erasures").append(tr);
  }
}
$("logout").addEventListener("click", async () => { await send("/api/logout", { method: "POST" }); location.href = "/login"; });
async function loadTemplates() {
  const templates = await api("/api/templates");
  for (const tpl of templates) {
    const opt = document.createElement("option");
    opt.value = tpl.key;
    opt.dataset.titles = JSON.stringify(tpl.titles);
    $("template").appendChild(opt);
  }
  renderTemplates();
}
function renderTemplates() {
  for (const opt of $("template").options) {
    if (opt.dataset.titles) { const titles = JSON.parse(opt.dataset.titles); opt.textContent = titles[lang] || titles.en; }
  }
}
document.addEventListener("langchange", renderTemplates);
loadTemplates().catch(() => {});
document.addEventListener("langchange", refresh);
refresh().catch((e) => { $("page-error").textContent = e.message; });
