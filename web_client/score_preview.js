// Score preview on the jobs page: score a sample answer against the job's competency model
// (POST /api/jobs/{id}/score-preview) and show what the report would show.
import { t } from "/static/i18n.js";
import { sendJson } from "/static/http.js";

const $ = (id) => document.getElementById(id);
let job = null;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

/** Show the panel for ``current`` (a job) with the questions of ``model`` (or hide it). */
export function showPreview(current, model, editable) {
  job = current;
  const card = $("preview-card");
  card.classList.toggle("hidden", !current || !model || !editable);
  if (!current || !model) return;
  const select = $("preview-question");
  const keep = select.value;
  select.innerHTML = "";
  for (const c of model.competencies) {
    for (const q of c.questions) {
      const opt = el("option", { value: q.id }, `${c.name} · ${q.id}: ${q.text}`);
      select.append(opt);
    }
  }
  if (keep) select.value = keep;
  if (!select.value && select.options.length) select.selectedIndex = 0;
  $("preview-language").value = current.language;
}

function renderAnswer(box, comp) {
  const answer = comp.answers[0];
  const head = el("h3", {}, comp.name);
  const score = el("p", { class: "preview-score", "data-competency": comp.competency_id });
  if (comp.status === "scored") {
    score.textContent = t("pv_score", { score: Math.round(comp.score) });
  } else {
    score.textContent = t("pv_set_aside");
  }
  box.append(head, score);
  for (const r of comp.reasons) box.append(el("p", { class: "muted reason" }, r.message));
  if (!answer || answer.status !== "scored") return;
  const table = el("table", { class: "preview-contributions" });
  table.append(el("thead"));
  table.tHead.append(el("tr"));
  for (const h of ["pv_feature", "pv_value", "pv_points", "pv_quotes"]) table.tHead.rows[0].append(el("th", {}, t(h)));
  const body = el("tbody");
  for (const c of answer.contributions) {
    const tr = el("tr");
    tr.append(el("td", {}, c.label), el("td", {}, c.value.toFixed(2)), el("td", {}, (c.points > 0 ? "+" : "") + c.points.toFixed(1)));
    const quotes = el("td");
    for (const q of c.quotes.slice(0, 3)) quotes.append(el("q", {}, q.text), el("br"));
    tr.append(quotes);
    body.append(tr);
  }
  table.append(body);
  box.append(table);
}

async function submit(ev) {
  ev.preventDefault();
  if (!job) return;
  const box = $("preview-result");
  box.innerHTML = "";
  $("preview-error").textContent = "";
  const res = await sendJson(`/api/jobs/${encodeURIComponent(job.id)}/score-preview`, {
    question_id: $("preview-question").value, text: $("preview-text").value, language: $("preview-language").value,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) { $("preview-error").textContent = data.message || `Error ${res.status}`; return; }
  box.append(el("p", { class: "muted" }, t("pv_version", { version: data.scorer_version })));
  for (const comp of data.competencies) renderAnswer(box, comp);
}

$("preview-form").addEventListener("submit", (ev) => { submit(ev).catch((e) => { $("preview-error").textContent = String(e.message || e); }); });
