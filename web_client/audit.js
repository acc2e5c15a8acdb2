// The audit page: filters, CSV export and chain verification (admins and auditors).
import { applyI18n, installToggle, t } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
installToggle($("lang"));
applyI18n();

function query() {
  const params = new URLSearchParams();
  for (const name of ["user", "action", "from", "to"]) {
    const v = $(`f-${name}`).value.trim();
    if (v) params.set(name, v);
  }
  return params;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  return td;
}

async function load() {
  $("error").textContent = "";
  const params = query();
  $("csv").href = `/api/audit.csv?${params}`;
  const res = await fetch(`/api/audit?${params}`);
  const body = await res.json();
  if (!res.ok) { $("error").textContent = body.message || res.status; return; }
  const tbody = $("entries").querySelector("tbody");
  tbody.replaceChildren();
  if (!body.length) {
    const tr = document.createElement("tr");
    const td = cell(t("au_none")); td.colSpan = 7; tr.append(td); tbody.append(tr);
  }
  for (const e of body) {
    const tr = document.createElement("tr");
    tr.dataset.action = e.action;
    tr.append(cell(e.id), cell(new Date(e.at).toLocaleString()), cell(e.user_email || e.user_id || t("au_system")),
      cell(e.role), cell(e.action), cell([e.target, e.detail].filter(Boolean).join(" · ")), cell(e.client));
    tr.title = e.user_agent || "";
    tbody.append(tr);
  }
}

$("filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
$("verify").addEventListener("click", async () => {
  const res = await fetch("/api/audit/verify");
  const body = await res.json();
  if (!res.ok) { $("error").textContent = body.message || res.status; return; }
  $("verified").textContent = body.ok ? t("au_ok", { n: body.entries }) : t("au_broken", { id: body.first_broken });
  $("verified").className = body.ok ? "" : "error";
});
load();
