// The job page: settings in one form, candidate import with preview, pipeline board, totals.
import { t, applyI18n, installToggle } from "/static/i18n.js";
import { send } from "/static/http.js";

const jobId = location.pathname.split("/").filter(Boolean).pop();
const STAGES = ["screened", "invited", "interview_started", "interview_done", "recommended", "below_threshold", "human_interview", "decided"];
const $ = (id) => document.getElementById(id);
let selected = new Set();

async function api(path, opts = {}) {
  const resp = await send(path, opts); // carries the CSRF token on POST/PUT/DELETE
  if (resp.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("sign-in"); }
  const body = resp.headers.get("content-type")?.includes("json") ? await resp.json() : {};
  return { ok: resp.ok, status: resp.status, body };
}

async function loadSettings() {
  const { ok, body } = await api(`/api/jobs/${jobId}/settings`);
  if (!ok) { $("job-title").textContent = body.message || t("wf_error"); return; }
  $("job-title").textContent = body.title;
  $("link-calibration").href = body.links.calibration;
  $("link-analytics").href = body.links.analytics;
  const form = $("settings");
  for (const [k, v] of Object.entries(body)) {
    const el = form.elements[k];
    if (!el) continue;
    if (el.type === "checkbox") el.checked = !!v; else if (v != null && k !== "template") el.value = v;
  }
  const tpl = $("s-template");
  tpl.innerHTML = `<option value="">${t("wf_keep_model")}${body.competency_model ? " (" + body.competency_model + ")" : ""}</option>` +
    body.templates.map((k) => `<option value="${k}">${k}</option>`).join("");
}

$("settings").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target.elements, out = {};
  for (const k of ["title", "language", "facial_analysis"]) out[k] = f[k].value;
  if (f.template.value) out.template = f.template.value;
  for (const k of ["question_count", "duration_minutes", "threshold", "approval_window", "invite_ttl_hours", "reminder_hours"]) if (f[k].value !== "") out[k] = Number(f[k].value);
  for (const k of ["delivery_enabled", "candidate_feedback"]) out[k] = f[k].checked;
  const { ok, body } = await api(`/api/jobs/${jobId}/settings`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(out) });
  $("settings-status").textContent = ok ? t("wf_saved") : (body.message || t("wf_error"));
  if (ok) loadSettings();
});

async function sendImport(dry) {
  const file = $("import-file").files[0];
  if (!file) { $("import-summary").textContent = t("wf_pick_file"); return; }
  const data = new FormData(); data.append("file", file);
  const { body } = await api(`/api/jobs/${jobId}/candidates/import${dry ? "?dry_run=1" : ""}`, { method: "POST", body: data });
  const errors = body.errors || [];
  $("import-errors").innerHTML = "";
  for (const e of errors) { const li = document.createElement("li"); li.textContent = `${t("wf_row")} ${e.row} · ${e.field}: ${e.message}`; $("import-errors").append(li); }
  if (body.message) $("import-summary").textContent = body.message;
  else if (dry) $("import-summary").textContent = errors.length ? t("wf_fix_errors", { n: errors.length }) : t("wf_ready", { n: body.valid });
  else $("import-summary").textContent = errors.length ? t("wf_nothing_imported") : t("wf_imported", { n: body.imported });
  $("import-go").disabled = !(dry && !errors.length && body.valid > 0);
  if (!dry) loadBoard();
}
$("import-preview").addEventListener("click", () => sendImport(true));
$("import-go").addEventListener("click", () => sendImport(false));

function cardEl(c) {
  const div = document.createElement("label");
  div.className = "wf-card" + (c.failed_messages ? " failed" : "");
  div.dataset.id = c.candidate_id;
  const box = document.createElement("input"); box.type = "checkbox"; box.checked = selected.has(c.candidate_id);
  box.addEventListener("change", () => { box.checked ? selected.add(c.candidate_id) : selected.delete(c.candidate_id); });
  const info = document.createElement("span");
  const tr = c.tracking;
  const marks = [tr.delivered_at && t("wf_delivered"), tr.opened_at && t("wf_opened"), tr.started_at && t("wf_started"), tr.finished_at && t("wf_finished")].filter(Boolean).join(" · ");
  info.innerHTML = `<b></b><br><small class="muted"></small>${c.failed_messages ? `<br><small class="error">${t("wf_failed_message")}</small>` : ""}`;
  info.querySelector("b").textContent = c.name;
  info.querySelector("small").textContent = [c.email, (c.tags || []).join(", "), marks].filter(Boolean).join(" · ");
  div.append(box, info);
  return div;
}

async function loadBoard() {
  const q = new URLSearchParams();
  if ($("f-stage").value) q.set("stage", $("f-stage").value);
  if ($("f-tag").value) q.set("tag", $("f-tag").value);
  if ($("f-rec").value) q.set("recommendation", $("f-rec").value);
  if ($("f-since").value) q.set("since", $("f-since").value);
  const { ok, body } = await api(`/api/jobs/${jobId}/pipeline?${q}`);
  if (!ok) return;
  const cols = $("columns"); cols.innerHTML = "";
  for (const s of STAGES) {
    const col = document.createElement("div"); col.className = "wf-col"; col.dataset.stage = s;
    const h = document.createElement("h3"); h.textContent = `${t("stage_" + s)} (${body.counts[s]})`;
    col.append(h, ...body.stages[s].map(cardEl));
    cols.append(col);
  }
  loadTotals();
}

async function loadTotals() {
  const { ok, body } = await api(`/api/jobs/${jobId}/tracking`);
  if (!ok) return;
  const pct = (x) => (x == null ? "–" : Math.round(x * 100) + "%");
  const rows = [["wf_sent", body.sent], ["wf_delivered", body.delivered], ["wf_opened", body.opened], ["wf_consent", body.consent], ["wf_started", body.started], ["wf_finished", body.finished],
    ["wf_open_rate", pct(body.open_rate)], ["wf_participation_rate", pct(body.participation_rate)], ["wf_completion_rate", pct(body.completion_rate)],
    ["wf_median", body.median_hours_invite_to_completion ?? "–"], ["wf_survey", body.survey.mean_rating ?? "–"]];
  $("totals").innerHTML = "";
  for (const [k, v] of rows) { const tr = document.createElement("tr"); tr.innerHTML = "<th></th><td></td>"; tr.firstChild.textContent = t(k); tr.lastChild.textContent = v; $("totals").append(tr); }
}

async function bulk(path, extra = {}) {
  if (!selected.size) { $("act-status").textContent = t("wf_select_first"); return; }
  const { ok, body } = await api(`/api/jobs/${jobId}/${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ candidate_ids: [...selected], ...extra }) });
  if (!ok) { $("act-status").textContent = body.message || t("wf_error"); return; }
  const counts = {};
  for (const r of body.results) counts[r.status] = (counts[r.status] || 0) + 1;
  $("act-status").textContent = Object.entries(counts).map(([k, n]) => `${t("wf_result_" + k)}: ${n}`).join(" · ");
  selected = new Set();
  loadBoard();
}
$("act-invite").addEventListener("click", () => bulk("invitations"));
$("act-reinvite").addEventListener("click", () => bulk("invitations", { reinvite: true }));
$("act-remind").addEventListener("click", () => bulk("reminders"));
$("act-move").addEventListener("click", () => bulk("moves", { stage: $("act-stage").value }));
$("f-apply").addEventListener("click", loadBoard);

function fillStageSelects() {
  $("f-stage").innerHTML = `<option value="">${t("wf_all")}</option>` + STAGES.map((s) => `<option value="${s}">${t("stage_" + s)}</option>`).join("");
  $("f-rec").options[0].textContent = t("wf_all");
  $("act-stage").innerHTML = STAGES.map((s) => `<option value="${s}">${t("stage_" + s)}</option>`).join("");
}

async function loadPeople() {
  const { ok, body } = await api(`/api/jobs/${jobId}/members`);
  if (!ok) return;
  $("h-people").innerHTML = "";
  for (const m of body) { const o = document.createElement("option"); o.value = m.user_id; o.textContent = m.name || m.email; $("h-people").append(o); }
}

// The human round for the one selected candidate: interviewers, time (this browser's zone), place.
$("human-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (selected.size !== 1) { $("human-status").textContent = t("wf_human_pick_one"); return; }
  const [cid] = [...selected];
  const local = new Date($("h-when").value);
  const body = {
    interviewer_ids: [...$("h-people").selectedOptions].map((o) => o.value),
    interviewer_emails: $("h-emails").value.split(/[,;\s]+/).filter(Boolean),
    starts_at: local.toISOString(), minutes: Number($("h-minutes").value || 60), location: $("h-where").value,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  const res = await api(`/api/jobs/${jobId}/applications/${cid}/human-interview`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  $("human-status").textContent = res.ok ? t("wf_human_done") : (res.body.message || t("wf_error"));
  if (res.ok) { selected = new Set(); loadBoard(); }
});

installToggle($("lang"));
applyI18n();
fillStageSelects();
document.addEventListener("langchange", () => { fillStageSelects(); loadBoard(); });
loadSettings();
loadBoard();
loadPeople();
