// Jobs and their competency models: pick a job, load a template, edit the YAML, save, download, upload.
import { t, lang, applyI18n, installToggle } from "/static/i18n.js";
import { send } from "/static/http.js";
import { showPreview } from "/static/score_preview.js";

const $ = (id) => document.getElementById(id);
installToggle($("lang"));
applyI18n();

let me = null;
let jobs = [];
let templates = [];
let current = null; // the selected job
let model = null; // its stored competency model (JSON), or null

class ApiError extends Error {
  constructor(status, data) {
    super(data.message || `Error ${status}`);
    this.status = status;
    this.data = data;
  }
}

async function api(path, { method = "GET", json, body, text = false } = {}) {
  const init = { method, headers: {} };
  if (json !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(json); }
  if (body !== undefined) { init.headers["Content-Type"] = "application/yaml"; init.body = body; }
  const res = await send(path, init);
  if (res.status === 401) { location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`; throw new Error("not signed in"); }
  if (res.ok) return text ? res.text() : res.json();
  throw new ApiError(res.status, await res.json().catch(() => ({})));
}

// The server writes validation problems in English; these patterns mirror the messages of
// analysis/competency/model.py and yaml_io.py so the page can show them in its own language.
// Anything not matched is shown as the server wrote it.
const PATTERNS = [
  [/^competency weights must sum to (\d+), but they sum to (-?\d+) \((.*)\)$/, "cm_err_weights", ["total", "sum", "parts"]],
  [/^competency '(.+?)' \((.*)\) has no main questions$/, "cm_err_no_questions", ["id", "name"]],
  [/^(competency|question) id '(.+)' is used more than once$/, "cm_err_duplicate", ["what", "id"]],
  [/^not valid YAML at line (\d+), column (\d+)(?:: (.*))?$/, "cm_err_yaml", ["line", "column", "problem"]],
  [/^not valid YAML(?:: (.*))?$/, "cm_err_yaml_noline", ["problem"]],
  [/^unknown language '(.*)': use 'zh' \(Mandarin\) or 'en' \(English\)$/, "cm_err_language", ["value"]],
  [/^(?:competency|question|model) id '(.*)' must be 1-64 lowercase letters, digits, '_' or '-'$/, "cm_err_id", ["value"]],
  [/^Field required$/, "cm_err_required", []],
  [/^Extra inputs are not permitted$/, "cm_err_extra", []],
  [/^List should have at least 1 item/, "cm_err_min_items", []],
  [/^String should have at least 1 character/, "cm_err_empty", []],
  [/^(?:probes|indicators) must not contain empty text$/, "cm_err_empty", []],
  [/^Input should be greater than (\d+)$/, "cm_err_gt", ["n"]],
  [/^Input should be less than or equal to (\d+)$/, "cm_err_le", ["n"]],
  [/^Input should be a valid integer/, "cm_err_int", []],
  [/^Input should be a valid (string|list|dictionary)/, "cm_err_type", ["type"]],
  [/^the (?:YAML document|body) must be a (?:mapping|JSON object)/, "cm_err_mapping", []],
];

function localizeProblem(problem) {
  if (lang === "en") return problem;
  const m = /^([A-Za-z0-9_.]+): (.*)$/.exec(problem);
  const [where, text] = m && !problem.startsWith("not valid YAML") ? [m[1], m[2]] : ["", problem];
  for (const [re, key, names] of PATTERNS) {
    const hit = re.exec(text);
    if (!hit) continue;
    const vars = {};
    names.forEach((name, i) => { vars[name] = hit[i + 1] ?? ""; });
    if (vars.what) vars.what = t(`cm_${vars.what}_word`);
    const said = t(key, vars);
    return where ? `${where}: ${said}` : said;
  }
  return problem;
}

function problemsOf(err) {
  const data = err.data || {};
  if (data.error === "language_mismatch") {
    return [t("cm_err_language_mismatch", { job: data.job_language, model: data.model_language })];
  }
  if (Array.isArray(data.errors)) return data.errors.map(localizeProblem);
  if (lang !== "en" && data.error && t(`cm_code_${data.error}`) !== `cm_code_${data.error}`) {
    return [t(`cm_code_${data.error}`)];
  }
  return [err.message];
}

let lastError = null; // re-shown in the new language when the page language changes

function showError(err) {
  lastError = err;
  showProblems(problemsOf(err));
}

function showProblems(problems) {
  if (!problems.length) lastError = null;
  const list = $("cm-errors");
  list.innerHTML = "";
  for (const p of problems) {
    const li = document.createElement("li");
    li.textContent = p;
    list.appendChild(li);
  }
}

// The server decides (server/policy.py); these only choose which controls to show.
function may(action) {
  return !!me && (me.can || []).includes(action);
}

function canEdit(job) {
  return me.role === "admin" || (may("job.edit") && !!job.my_role);
}

function canManageMembers(job) {
  return me.role === "admin" || (may("job.members.edit") && job.my_role === "owner");
}

let members = [];

async function loadMembers(job) {
  $("members-error").textContent = "";
  try {
    members = await api(`/api/jobs/${encodeURIComponent(job.id)}/members`);
  } catch (e) {
    members = [];
    $("members-error").textContent = e.message;
  }
  renderMembers();
}

function renderMembers() {
  $("members-card").classList.toggle("hidden", !current);
  if (!current) return;
  const manage = canManageMembers(current);
  $("add-member").classList.toggle("hidden", !manage);
  $("no-members").classList.toggle("hidden", members.length > 0);
  const body = $("members");
  body.innerHTML = "";
  for (const m of members) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td><td></td><td></td>";
    tr.children[0].textContent = m.email;
    tr.children[1].textContent = t(`role_${m.user_role}`);
    tr.children[2].textContent = t(`job_role_${m.role}`);
    if (manage) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = t("member_remove");
      remove.addEventListener("click", () => removeMember(m));
      tr.children[3].appendChild(remove);
    }
    body.appendChild(tr);
  }
}

async function removeMember(m) {
  if (!confirm(t("member_remove_confirm", { email: m.email }))) return;
  $("members-error").textContent = "";
  try {
    await api(`/api/jobs/${encodeURIComponent(current.id)}/members/${encodeURIComponent(m.user_id)}`, { method: "DELETE" });
    await loadMembers(current);
  } catch (e) { $("members-error").textContent = e.message; }
}

$("add-member").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("members-error").textContent = "";
  try {
    await api(`/api/jobs/${encodeURIComponent(current.id)}/members`, {
      method: "POST", json: { email: $("member-email").value, role: $("member-role").value },
    });
    $("member-email").value = "";
    await loadMembers(current);
  } catch (e) { $("members-error").textContent = e.message; }
});

// Transcription vocabulary: one term per line (names, products, jargon), zh or en.
async function loadVocabulary(job) {
  $("vocabulary-card").classList.toggle("hidden", !job);
  $("vocabulary-error").textContent = "";
  $("vocabulary-saved").textContent = "";
  if (!job) return;
  const editable = canEdit(job);
  $("vocabulary").readOnly = !editable;
  $("vocabulary-save").classList.toggle("hidden", !editable);
  try {
    const v = await api(`/api/jobs/${encodeURIComponent(job.id)}/vocabulary`);
    $("vocabulary").value = v.terms.join("\n");
  } catch (e) { $("vocabulary-error").textContent = e.message; }
}

$("vocabulary-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("vocabulary-error").textContent = "";
  $("vocabulary-saved").textContent = "";
  const terms = $("vocabulary").value.split("\n").map((x) => x.trim()).filter(Boolean);
  try {
    const v = await api(`/api/jobs/${encodeURIComponent(current.id)}/vocabulary`, { method: "PUT", json: { terms } });
    $("vocabulary").value = v.terms.join("\n");
    $("vocabulary-saved").textContent = t("cm_saved");
  } catch (e) { $("vocabulary-error").textContent = e.message; }
});

function languageName(code) {
  return code === "zh" ? "中文" : code === "en" ? "English" : code;
}

function renderJobs() {
  const body = $("jobs");
  body.innerHTML = "";
  $("no-jobs").classList.toggle("hidden", jobs.length > 0);
  for (const job of jobs) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td></td><td></td><td></td><td><button type="button"></button></td>`;
    tr.children[0].textContent = job.title;
    tr.children[1].textContent = languageName(job.language);
    tr.children[2].textContent = job.competency_model ? job.competency_model.job_title : t("cm_none");
    if (!job.competency_model) tr.children[2].classList.add("muted");
    const pick = tr.querySelector("button");
    pick.textContent = t("cm_open");
    pick.addEventListener("click", () => selectJob(job.id));
    const page = document.createElement("a");
    page.href = `/jobs/${job.id}`;
    page.textContent = t("wf_board");
    page.style.marginLeft = ".5rem";
    tr.children[3].appendChild(page);
    if (current && current.id === job.id) tr.classList.add("selected");
    body.appendChild(tr);
  }
}

function renderTemplates() {
  const select = $("template");
  const keep = select.value;
  select.innerHTML = "";
  for (const tpl of templates) {
    const opt = document.createElement("option");
    opt.value = tpl.key;
    opt.textContent = tpl.titles[lang] || tpl.titles.en || Object.values(tpl.titles)[0] || tpl.key;
    select.appendChild(opt);
  }
  if (keep) select.value = keep;
}

function renderSummary() {
  const table = $("summary");
  const body = table.querySelector("tbody");
  body.innerHTML = "";
  table.classList.toggle("hidden", !model);
  $("model-status").textContent = model
    ? t("cm_status", { title: model.job_title, version: model.version, n: model.competencies.length })
    : t("cm_no_model");
  if (!model) return;
  for (const c of model.competencies) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td><td></td><td></td><td></td>";
    tr.children[0].textContent = c.name;
    tr.children[1].textContent = String(c.weight);
    tr.children[2].textContent = String(c.indicators.length);
    tr.children[3].textContent = String(c.questions.length);
    const anchors = c.anchors || {};
    const levels = Object.keys(anchors).sort();
    if (levels.length) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = levels.join(" · ");
      details.appendChild(summary);
      for (const level of levels) {
        const p = document.createElement("p");
        p.textContent = `${t("rv_anchor_level").replace("{level}", level)}: ${anchors[level]}`;
        details.appendChild(p);
      }
      tr.children[4].appendChild(details);
    } else {
      tr.children[4].textContent = t("cm_no_anchors");
    }
    body.appendChild(tr);
  }
}

function renderJob() {
  $("job").classList.toggle("hidden", !current);
  if (!current) return;
  const editable = canEdit(current);
  $("job-title").textContent = current.title;
  $("job-language").textContent = languageName(current.language);
  $("read-only").classList.toggle("hidden", editable);
  document.querySelectorAll("#job .edit").forEach((el) => { el.disabled = !editable; });
  $("yaml").readOnly = !editable;
  const download = $("download");
  download.classList.toggle("hidden", !model);
  download.href = `/api/jobs/${encodeURIComponent(current.id)}/competency-model.yaml`;
  renderSummary();
  showPreview(current, model, editable);
}

async function loadModelInto(job) {
  const base = `/api/jobs/${encodeURIComponent(job.id)}/competency-model`;
  try {
    model = await api(base);
    $("yaml").value = await api(`${base}.yaml`, { text: true });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404 && e.data.error === "no_competency_model")) throw e;
    model = null;
    $("yaml").value = "";
  }
}

async function selectJob(id) {
  showProblems([]);
  $("saved").textContent = "";
  current = jobs.find((j) => j.id === id) || null;
  if (!current) { renderJob(); return; }
  const url = new URL(location.href);
  url.searchParams.set("job", id);
  history.replaceState(null, "", url);
  $("template-language").value = current.language;
  try { await loadModelInto(current); } catch (e) { showError(e); }
  renderJobs();
  renderJob();
  await loadVocabulary(current);
  await loadMembers(current);
}

async function afterSave(saved) {
  model = saved;
  current.competency_model = saved;
  $("yaml").value = await api(`/api/jobs/${encodeURIComponent(current.id)}/competency-model.yaml`, { text: true });
  showProblems([]);
  $("saved").textContent = t("cm_saved");
  renderJobs();
  renderJob();
}

async function run(action) {
  showProblems([]);
  $("saved").textContent = "";
  try { await action(); } catch (e) { showError(e); }
}

$("template-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (model && !confirm(t("cm_replace_confirm"))) return;
  run(async () => {
    const saved = await api(`/api/jobs/${encodeURIComponent(current.id)}/competency-model/from-template`, {
      method: "POST", json: { key: $("template").value, language: $("template-language").value },
    });
    await afterSave(saved);
  });
});

async function putYaml(text) {
  const saved = await api(`/api/jobs/${encodeURIComponent(current.id)}/competency-model.yaml`, { method: "PUT", body: text });
  await afterSave(saved);
}

$("save").addEventListener("click", () => run(() => putYaml($("yaml").value)));

$("upload-button").addEventListener("click", () => $("upload").click());
$("upload").addEventListener("change", async () => {
  const file = $("upload").files[0];
  $("upload").value = "";
  if (!file) return;
  if (model && !confirm(t("cm_replace_confirm"))) return;
  const text = await file.text();
  // Show what was uploaded even when it is refused, so the problems can be fixed right here.
  $("yaml").value = text;
  run(() => putYaml(text));
});

$("new-job").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("jobs-error").textContent = "";
  try {
    const job = await api("/api/jobs", { method: "POST", json: { title: $("new-title").value, language: $("new-language").value } });
    $("new-title").value = "";
    job.my_role = "owner";
    jobs.push(job);
    await selectJob(job.id);
  } catch (e) { $("jobs-error").textContent = problemsOf(e).join(" "); }
});

async function start() {
  me = await api("/api/me");
  $("me").textContent = `${me.email} · ${t(`role_${me.role}`)}`;
  $("new-job").classList.toggle("hidden", !may("jobs.create"));
  [jobs, templates] = await Promise.all([api("/api/jobs"), api("/api/templates")]);
  renderTemplates();
  renderJobs();
  const wanted = new URLSearchParams(location.search).get("job");
  if (wanted) await selectJob(wanted);
}

document.addEventListener("langchange", () => {
  renderTemplates();
  renderJobs();
  renderJob();
  renderMembers();
  applyI18n();
  if (me) $("me").textContent = `${me.email} · ${t(`role_${me.role}`)}`;
  if (lastError) showProblems(problemsOf(lastError));
});
start().catch((e) => { $("jobs-error").textContent = problemsOf(e).join(" "); });
