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

function showImportResult(body, dry) {
  const errors = body.errors || [];
  $("import-errors").innerHTML = "";
  for (const e of errors) { const li = document.createElement("li"); li.textContent = `${t("wf_row")} ${e.row} · ${e.field}: ${e.message}`; $("import-errors").append(li); }
  if (body.message) $("import-summary").textContent = body.message;
  else if (dry) $("import-summary").textContent = errors.length ? t("wf_fix_errors", { n: errors.length }) : t("wf_ready", { n: body.valid });
  else $("import-summary").textContent = errors.length ? t("wf_nothing_imported") : t("wf_imported", { n: body.imported });
  $("import-go").disabled = !(dry && !errors.length && body.valid > 0);
}

// The import itself streams its progress (NDJSON lines, then the answer): a long file shows
// how far it has got instead of a page that seems stuck.
async function streamImport(data) {
  const resp = await send(`/api/jobs/${jobId}/candidates/import?progress=1`, { method: "POST", body: data });
  if (!resp.headers.get("content-type")?.includes("ndjson")) return resp.json().catch(() => ({ message: t("wf_error") }));
  const reader = resp.body.getReader(), decoder = new TextDecoder();
  let buffered = "", last = { message: t("wf_error") };
  for (;;) {
    let done, value;
    try { ({ done, value } = await reader.read()); } catch { return { message: t("wf_import_lost") }; }
    if (value) buffered += decoder.decode(value, { stream: true });
    const lines = buffered.split("\n"); buffered = lines.pop();
    for (const line of lines.filter(Boolean)) {
      const msg = JSON.parse(line);
      if (msg.progress) {
        $("import-progress").max = msg.progress.total; $("import-progress").value = msg.progress.done;
        $("import-summary").textContent = t("wf_importing", { done: msg.progress.done, total: msg.progress.total });
      } else last = msg;
    }
    if (done) return last;
  }
}

async function sendImport(dry) {
  const file = $("import-file").files[0];
  if (!file) { $("import-summary").textContent = t("wf_pick_file"); return; }
  const data = new FormData(); data.append("file", file);
  $("import-go").disabled = true; $("import-preview").disabled = true;
  try {
    if (dry) {
      $("import-summary").textContent = t("wf_checking");
      const { body } = await api(`/api/jobs/${jobId}/candidates/import?dry_run=1`, { method: "POST", body: data });
      showImportResult(body, true);
      return;
    }
    $("import-progress").value = 0; $("import-progress").classList.remove("hidden");
    $("import-summary").textContent = t("wf_importing", { done: 0, total: "…" });
    showImportResult(await streamImport(data), false);
    loadBoard();
  } finally {
    $("import-progress").classList.add("hidden"); $("import-preview").disabled = false;
  }
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
  const more = document.createElement("button");
  more.type = "button"; more.className = "wf-history"; more.textContent = t("wf_history");
  more.addEventListener("click", (ev) => { ev.preventDefault(); showHistory(c.candidate_id); });
  div.append(box, info, more);
  return div;
}

// One card's timeline: every stage change (who, when) and every message (channel, status).
async function showHistory(cid) {
  const { ok, body } = await api(`/api/jobs/${jobId}/applications/${cid}`);
  if (!ok) { $("act-status").textContent = body.message || t("wf_error"); return; }
  $("detail").classList.remove("hidden");
  $("detail").dataset.id = cid;
  $("detail-name").textContent = body.name;
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  const actor = (c) => (c.actor === "person" ? (c.by_email || t("wf_actor_person")) : t("wf_actor_" + c.actor));
  $("detail-timeline").innerHTML = "";
  for (const c of body.timeline) {
    const li = document.createElement("li");
    li.dataset.to = c.to;
    li.textContent = `${when(c.at)} · ${c.from ? t("stage_" + c.from) + " → " : ""}${t("stage_" + c.to)} · ${actor(c)}${c.note ? " · " + c.note : ""}`;
    $("detail-timeline").append(li);
  }
  $("detail-messages").innerHTML = "";
  for (const m of body.messages) {
    const li = document.createElement("li");
    li.dataset.template = m.template; li.dataset.status = m.status;
    li.textContent = `${when(m.created_at)} · ${m.channel} · ${m.template} · ${t("wf_msg_" + m.status)}${m.error ? " · " + m.error : ""}`;
    $("detail-messages").append(li);
  }
}
$("detail-close").addEventListener("click", () => $("detail").classList.add("hidden"));

const BOARD_REFRESH_MS = 10000;
let boardLoading = false;

async function loadBoard() {
  boardLoading = true;
  try { await drawBoard(); } finally { boardLoading = false; }
}

async function drawBoard() {
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
  if (!$("detail").classList.contains("hidden")) showHistory($("detail").dataset.id);
}

async function loadTotals() {
  const { ok, body } = await api(`/api/jobs/${jobId}/tracking`);
  if (!ok) return;
  const pct = (x) => (x == null ? "–" : Math.round(x * 100) + "%");
  const rows = [["wf_sent", body.sent], ["wf_delivered", body.delivered], ["wf_opened", body.opened], ["wf_consent", body.consent], ["wf_started", body.started], ["wf_finished", body.finished],
    ["wf_open_rate", pct(body.open_rate)], ["wf_participation_rate", pct(body.participation_rate)], ["wf_completion_rate", pct(body.completion_rate)],
    ["wf_median", body.median_hours_invite_to_completion ?? "–"], ["wf_survey", body.survey.mean_rating ?? "–"],
    ["wf_survey_responses", body.survey.responses],
    ["wf_survey_spread", [1, 2, 3, 4, 5].map((n) => `${n}★ ${body.survey.ratings[n]}`).join(" · ")]];
  $("totals").innerHTML = "";
  for (const [k, v] of rows) { const tr = document.createElement("tr"); tr.innerHTML = "<th></th><td></td>"; tr.firstChild.textContent = t(k); tr.lastChild.textContent = v; $("totals").append(tr); }
  $("survey-comments").innerHTML = "";
  for (const c of body.survey.comments) { const li = document.createElement("li"); li.textContent = `${c.rating}★ ${c.comment}`; $("survey-comments").append(li); }
  $("survey-box").classList.toggle("hidden", !body.survey.comments.length);
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
// Interviews end and scores arrive while the page is open: refresh the board now and then.
setInterval(() => { if (!document.hidden && !boardLoading) loadBoard(); }, BOARD_REFRESH_MS);
