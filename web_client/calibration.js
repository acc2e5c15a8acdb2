import { applyI18n, installToggle, t } from "/static/i18n.js";
import { send } from "/static/http.js";

const jid = location.pathname.split("/").pop();
const $ = (id) => document.getElementById(id);
let data = null;

installToggle($("lang"));
applyI18n();

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}
const f2 = (v) => (v == null ? "—" : Number(v).toFixed(2));

function agreementTable(rows) {
  const table = el("table", { class: "agreement" });
  const head = el("tr");
  for (const h of [t("rv_competency"), t("cal_n"), `${t("cal_pearson")} ${t("cal_before")}`, `${t("cal_pearson")} ${t("cal_after")}`, `${t("cal_spearman")} ${t("cal_before")}`, `${t("cal_spearman")} ${t("cal_after")}`]) head.append(el("th", {}, h));
  table.append(head);
  for (const a of rows) {
    const tr = el("tr", { "data-competency": a.competency_id });
    tr.append(el("td", {}, a.competency_id === "all" ? t("cal_all") : a.competency_id), el("td", {}, String(a.after.n)),
      el("td", {}, f2(a.before.pearson)), el("td", {}, f2(a.after.pearson)), el("td", {}, f2(a.before.spearman)), el("td", {}, f2(a.after.spearman)));
    table.append(tr);
  }
  return table;
}

function render() {
  $("job").textContent = data.job_title;
  $("current").textContent = data.current_version;
  $("min").textContent = t("cal_min", { n: data.min_interviews });
  const box = $("versions"); box.innerHTML = "";
  for (const v of data.versions) {
    const card = el("div", { class: "card version", "data-version": v.version.id });
    const r = v.report || {};
    card.append(el("h2", {}, `${v.version.id}`),
      el("p", { class: "muted" }, `${new Date(v.version.created_at).toLocaleString()} · ${v.version.note} · ${t("cal_lambda")} ${r.ridge_lambda} · ${t("cal_cv")} ${f2((r.cv_rmse || {})[String(r.ridge_lambda)])}`));
    if (r.agreement) card.append(agreementTable(r.agreement));
    const w = el("p", { class: "muted" }, `${t("cal_weights")}: ` + Object.entries(v.version.weights).map(([k, x]) => `${k} ${f2(r.weights_before?.[k])}→${f2(x)}`).join(", "));
    card.append(w);
    box.append(card);
  }
}

async function load() {
  const r = await send(`/api/jobs/${jid}/calibration.json`);
  const body = await r.json();
  if (!r.ok) { $("error").textContent = body.message; return; }
  data = body;
  render();
}

$("run").onclick = async () => {
  $("error").textContent = "";
  const r = await send(`/api/jobs/${jid}/calibrate`, { method: "POST" });
  const body = await r.json();
  if (!r.ok) { $("error").textContent = body.message; return; }
  await load();
};
document.addEventListener("langchange", () => { if (data) render(); });
load();
