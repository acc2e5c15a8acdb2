import { applyI18n, installToggle, t } from "/static/i18n.js";
import { fmtTime } from "/static/common.js";
import { send as request } from "/static/http.js";
import { renderLlm } from "/static/llm_panel.js";

const iid = location.pathname.split("/").pop();
const $ = (id) => document.getElementById(id);
let data = null;

installToggle($("lang"));
applyI18n();
$("review-link").href = `/review/${iid}`;
$("pdf-link").href = `/api/interviews/${iid}/report.pdf`;
$("json-link").href = `/api/interviews/${iid}/report.json`;

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}
const num = (v) => (v == null ? "—" : String(Math.round(v)));
function list(id, items, render) {
  const ul = $(id); ul.innerHTML = "";
  if (!items.length) ul.append(el("li", { class: "muted" }, t("rv_none")));
  for (const it of items) ul.append(render(it));
}

function renderWithoutAi() {
  $("total").textContent = t("rv_no_ai");
  $("recommendation").textContent = "";
  const body = $("diffs").querySelector("tbody"); body.innerHTML = "";
  const humans = {};
  for (const x of data.ratings) (humans[x.competency_id] ||= []).push(x.value);
  for (const c of data.competencies) {
    const v = humans[c.competency_id] || [];
    const tr = el("tr", { "data-competency": c.competency_id });
    tr.append(el("td", {}, c.name), el("td", {}, "—"),
      el("td", {}, v.length ? `${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)} / 5 (${v.length} ${t("rv_raters")})` : "—"), el("td", {}, "—"));
    body.append(tr);
  }
  list("focus", [], () => null);
  $("evidence").replaceChildren(el("p", { class: "muted" }, t("rv_no_ai")));
}

function render() {
  $("who").textContent = `${data.interview.candidate} · ${data.interview.job_title}`;
  $("status").textContent = t(`st_${data.status.status}`);
  if (!data.report) { renderWithoutAi(); renderLists(); return; }
  const r = data.report, s = r.score;
  $("total").textContent = `${t("rv_total")}: ${num(s.total)} / 100 · ${t("rv_scorer")}: ${s.scorer_version}`;
  $("recommendation").textContent = s.recommendation.text;
  $("status").textContent = t(`st_${r.status.status}`);
  const d = r.status.decision;
  $("decided").textContent = d ? `${d.person} · ${new Date(d.at).toLocaleString()}` : "";
  const body = $("diffs").querySelector("tbody"); body.innerHTML = "";
  for (const x of r.rating_differences) {
    const tr = el("tr", { class: x.highlighted ? "gap" : "", "data-competency": x.competency_id });
    tr.append(el("td", {}, x.name), el("td", {}, x.ai == null ? t("rv_insufficient") : num(x.ai)),
      el("td", {}, x.human == null ? "—" : `${num(x.human)} (${x.raters} ${t("rv_raters")})`),
      el("td", {}, x.difference == null ? "—" : `${x.difference > 0 ? "+" : ""}${num(x.difference)}`));
    body.append(tr);
  }
  list("focus", r.focus_points, (f) => el("li", {}, f.text));
  renderLlm($("llm"), r);
  const names = Object.fromEntries(s.competencies.map((c) => [c.competency_id, c.name]));
  list("live", data.live || [], (x) => el("li", {}, x.kind === "rating"
    ? `${fmtTime(x.t)} ${names[x.competency_id] || x.competency_id}: ${t("live_rating_line", { score: x.score, by: x.by, at: fmtTime(x.t) })}${x.confirmed ? " · " + t("live_confirmed") : ""}`
    : `${fmtTime(x.t)} ${x.by}: ${x.text}`));
  const ev = $("evidence"); ev.innerHTML = "";
  for (const c of s.competencies) {
    ev.append(el("h3", {}, `${c.name} — ${c.score == null ? t("rv_insufficient") : num(c.score)}`));
    for (const reason of c.reasons) ev.append(el("p", { class: "muted" }, reason.message));
    for (const ind of c.indicators) {
      ev.append(el("p", {}, `${ind.indicator} (${t("rv_ind_" + ind.status)})`));
      ind.support.slice(0, 3).forEach((q) => ev.append(el("p", { class: "quote" }, `+ ${fmtTime(q.start)} “${q.text}”`)));
      ind.against.slice(0, 2).forEach((q) => ev.append(el("p", { class: "quote against" }, `− ${fmtTime(q.start)} “${q.text}”`)));
    }
  }
  renderLists();
}

function renderLists() {
  list("followups", data.followups, (f) => el("li", {}, `${fmtTime(f.t)} ${f.text} — ${t("rv_outcome_" + f.outcome)}. ${f.reason}`));
  list("injected", data.injected, (i) => el("li", {}, `${fmtTime(i.t)} ${i.by}: ${i.text}`));
  list("delivery", data.delivery, (x) => {
    const parts = [];
    if (x.speaking_rate != null) parts.push(`${t("rv_speaking_rate")} ${Math.round(x.speaking_rate)} ${x.unit === "char" ? "/min" : "wpm"}`);
    if (x.pause_ratio != null) parts.push(`${t("rv_pauses")} ${Math.round(100 * x.pause_ratio)}%`);
    if (x.share_facing != null) parts.push(`${t("rv_facing")} ${Math.round(100 * x.share_facing)}%`);
    return el("li", {}, `${fmtTime(x.start)}–${fmtTime(x.end)} ${parts.join(", ")}`);
  });
  list("decisions", data.decisions, (x) => el("li", {}, `${new Date(x.at).toLocaleString()} · ${x.person} · ${t("st_" + { advance: "advanced", hold: "on_hold", reject: "rejected" }[x.decision])}${x.note ? " — " + x.note : ""}`));
}

async function main() {
  // Hide the PDF export from roles that may not export (server/policy.py decides).
  request(`/api/interviews/${iid}`).then((r) => r.json()).then((b) => {
    if (!(b.can || []).includes("interview.export")) $("pdf-link").classList.add("hidden");
  }).catch(() => {});
  const r = await request(`/api/interviews/${iid}/report.json`);
  const body = await r.json();
  if (!r.ok) { $("error").textContent = body.message; $("error").classList.remove("hidden"); return; }
  data = body;
  render();
}
document.addEventListener("langchange", () => { if (data) render(); });
main();
