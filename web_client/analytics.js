// Analytics: funnel, time saved, satisfaction, AI-human agreement (with 95 % intervals) and
// fairness by self-identified group (suppressed under 5), per job or
// for the organisation. Charts are plain SVG; every number comes from the API.
import { t, applyI18n, installToggle } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
installToggle($("lang"));
applyI18n();

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
const fmt = (v) => (v == null ? "—" : v.toFixed(2));
const ci = (c) => (c.value == null ? "—" : `${fmt(c.value)} [${fmt(c.low)}, ${fmt(c.high)}]`);

function bars(svg, items, { max = null, whiskers = false, line = null } = {}) {
  svg.innerHTML = "";
  const row = 26, left = 170, width = 360;
  svg.setAttribute("viewBox", `0 0 ${left + width + 60} ${Math.max(1, items.length) * row + 10}`);
  const top = max ?? Math.max(1, ...items.map((i) => i.value || 0));
  items.forEach((item, k) => {
    const y = 5 + k * row;
    const w = Math.max(0, (item.value || 0) / top) * width;
    svg.append(svgEl("text", { x: 0, y: y + 15 }, item.label));
    svg.append(svgEl("rect", { class: `bar${item.flag ? " flag" : ""}${item.cls ? " " + item.cls : ""}`, x: left, y, width: w, height: row - 8, "data-value": item.value ?? "" }));
    if (whiskers && item.low != null && item.high != null) {
      const mid = y + (row - 8) / 2;
      svg.append(svgEl("line", { class: "whisker", x1: left + Math.max(0, item.low) / top * width, x2: left + item.high / top * width, y1: mid, y2: mid }));
    }
    svg.append(svgEl("text", { x: left + w + 6, y: y + 15 }, item.text ?? String(item.value ?? "—")));
  });
  if (line != null) {
    const x = left + (line / top) * width;
    svg.append(svgEl("line", { class: "threshold", x1: x, x2: x, y1: 0, y2: Math.max(1, items.length) * row + 10 }));
  }
}

function cells(tr, values) {
  for (const v of values) {
    const td = document.createElement("td");
    if (v && typeof v === "object") { td.textContent = v.text; if (v.cls) td.className = v.cls; if (v.field) td.dataset.field = v.field; if (v.span) td.colSpan = v.span; }
    else td.textContent = v == null ? "—" : String(v);
    tr.append(td);
  }
  return tr;
}
const pct = (v) => (v == null ? "—" : `${Math.round(100 * v)}%`);
const TIME_ROWS = ["interviews", "ai_interview_minutes", "mean_interview_minutes", "human_measured_interviews", "human_review_minutes",
  "observer_minutes", "mean_human_minutes_per_interview", "unmeasured_reviews", "minutes_saved_per_interview"];
const GROUP_LABEL = { gender: "sid_g_", age_band: "sid_a_" };

function renderTime(ts) {
  $("time").textContent = t("an_time_line", { n: ts.interviews, minutes: Math.round(ts.ai_interview_minutes) });
  const body = $("time-table").querySelector("tbody");
  body.replaceChildren(...TIME_ROWS.map((key) => {
    const tr = document.createElement("tr");
    tr.dataset.measure = key;
    return cells(tr, [t(`an_t_${key}`), ts[key]]);
  }));
  bars($("time-chart"), [
    { label: t("an_bar_ai"), value: ts.mean_interview_minutes, cls: "ai" },
    { label: t("an_bar_human"), value: ts.mean_human_minutes_per_interview },
  ]);
}

function renderSatisfaction(sat) {
  const all = sat.overall;
  $("satisfaction-line").textContent = all.responses ? t("an_sat_line", { n: all.responses, mean: all.mean.toFixed(2) }) : t("an_sat_none");
  bars($("satisfaction-chart"), [1, 2, 3, 4, 5].map((k) => ({ label: t("an_sat_bar", { n: k }), value: all.distribution[String(k)] })));
  const body = $("satisfaction").querySelector("tbody");
  body.replaceChildren(...sat.by_job.map((j) => {
    const tr = document.createElement("tr");
    tr.dataset.job = j.job_id;
    return cells(tr, [j.title, j.satisfaction.responses, j.satisfaction.mean == null ? null : j.satisfaction.mean.toFixed(2)]);
  }));
}

function renderFairness(f) {
  $("fairness-note").textContent = f.collected ? t("an_fairness_count", { n: f.responses }) : t("an_fairness_none");
  $("fairness-hint").textContent = t("an_fairness_hint", { min: f.min_group });
  const box = $("fairness-attributes");
  box.replaceChildren();
  for (const a of f.attributes) {
    const label = (g) => t(`${GROUP_LABEL[a.attribute] || ""}${g}`);
    const h = document.createElement("h3");
    h.textContent = t(`an_attr_${a.attribute}`);
    const nd = document.createElement("p");
    nd.className = "muted";
    nd.textContent = t("an_not_disclosed", { n: a.not_disclosed });
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    svg.id = `fairness-chart-${a.attribute}`;
    const shown = a.groups.filter((g) => !g.suppressed && g.impact_ratio != null);
    bars(svg, shown.map((g) => ({ label: label(g.group), value: g.impact_ratio, flag: g.flagged, text: fmt(g.impact_ratio) })), { max: 1, line: 0.8 });
    const table = document.createElement("table");
    table.id = `fairness-${a.attribute}`;
    const head = document.createElement("tr");
    for (const k of ["an_group", "an_n", "an_rate", "an_ratio", "an_conf", "an_aside", "an_offtopic"]) {
      const th = document.createElement("th"); th.textContent = t(k); head.append(th);
    }
    table.createTHead().append(head);
    const body = table.createTBody();
    for (const g of a.groups) {
      const tr = document.createElement("tr");
      tr.dataset.group = g.group;
      if (g.suppressed) { cells(tr, [label(g.group), { text: t("an_suppressed", { min: f.min_group }), cls: "suppressed", span: 6, field: "suppressed" }]); body.append(tr); continue; }
      cells(tr, [
        label(g.group),
        { text: String(g.n), field: "n" },
        { text: g.rate == null ? "—" : `${pct(g.rate)} (${g.recommended}/${g.compared})`, field: "rate" },
        { text: g.impact_ratio == null ? "—" : `${fmt(g.impact_ratio)}${g.flagged ? " · " + t("an_flag") : ""}`, cls: g.flagged ? "flag" : "", field: "impact_ratio" },
        { text: fmt(g.asr_confidence), field: "asr_confidence" },
        { text: pct(g.set_aside_share), field: "set_aside_share" },
        { text: pct(g.off_topic_share), field: "off_topic_share" },
      ]);
      body.append(tr);
    }
    const scroll = document.createElement("div");
    scroll.className = "table-scroll";
    scroll.append(table);
    box.append(h, nd, svg, scroll);
  }
}

function render(data, base) {
  const funnelBody = $("funnel").querySelector("tbody");
  funnelBody.innerHTML = "";
  for (const s of data.funnel) {
    const tr = document.createElement("tr");
    tr.dataset.stage = s.stage;
    for (const v of [t(`an_stage_${s.stage}`), String(s.count), s.conversion == null ? "—" : `${Math.round(100 * s.conversion)}%`]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    funnelBody.append(tr);
  }
  bars($("funnel-chart"), data.funnel.map((s) => ({ label: t(`an_stage_${s.stage}`), value: s.count })));
  const pipeBody = $("pipeline").querySelector("tbody");
  pipeBody.replaceChildren(...data.pipeline.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.stage = s.stage;
    return cells(tr, [t(`stage_${s.stage}`), s.count, s.conversion == null ? null : pct(s.conversion)]);
  }));
  $("pipeline-note").textContent = data.pipeline.length && data.pipeline[0].count ? t("an_pipeline_hint") : t("an_pipeline_none");
  bars($("pipeline-chart"), data.pipeline.map((s) => ({ label: t(`stage_${s.stage}`), value: s.count })));
  renderTime(data.time_saved);
  renderSatisfaction(data.satisfaction);
  const body = $("agreement").querySelector("tbody");
  body.innerHTML = "";
  for (const a of data.agreement) {
    const tr = document.createElement("tr");
    tr.dataset.competency = a.competency_id;
    for (const v of [a.scorer_version, a.competency_id === "all" ? t("an_all") : a.competency_id, String(a.agreement.n), ci(a.agreement.pearson), ci(a.agreement.spearman)]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    body.append(tr);
  }
  bars($("agreement-chart"), data.agreement.map((a) => ({
    label: `${a.scorer_version} · ${a.competency_id === "all" ? t("an_all") : a.competency_id}`,
    value: a.agreement.pearson.value, low: a.agreement.pearson.low, high: a.agreement.pearson.high,
    text: fmt(a.agreement.pearson.value),
  })), { max: 1, whiskers: true });
  renderFairness(data.fairness);
  document.querySelectorAll("a.csv").forEach((a) => { a.href = `${base}?format=csv&table=${a.dataset.table}`; });
}

async function load() {
  $("an-error").textContent = "";
  const scope = $("scope").value;
  const base = scope === "org" ? "/api/analytics" : `/api/jobs/${encodeURIComponent(scope)}/analytics`;
  const res = await fetch(base);
  if (res.status === 401) { location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`; return; }
  const data = await res.json();
  if (!res.ok) { $("an-error").textContent = data.message || `Error ${res.status}`; return; }
  render(data, base);
  document.body.dataset.loaded = scope;
}

async function start() {
  const me = await (await fetch("/api/me")).json();
  if (me.error) { location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`; return; }
  const jobs = await (await fetch("/api/jobs")).json();
  const select = $("scope");
  if ((me.can || []).includes("metrics.read")) select.append(new Option(t("an_org"), "org"));
  for (const j of Array.isArray(jobs) ? jobs : []) select.append(new Option(j.title, j.id));
  const wanted = new URL(location.href).searchParams.get("scope");
  if (wanted) select.value = wanted;
  select.addEventListener("change", () => load());
  if (select.value) await load();
}

document.addEventListener("langchange", () => { if ($("scope").value) load(); });
start().catch((e) => { $("an-error").textContent = String(e.message || e); });
