// Analytics: funnel, time, AI-human agreement (with 95 % intervals) and fairness, per job or
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

function bars(svg, items, { max = null, whiskers = false } = {}) {
  svg.innerHTML = "";
  const row = 26, left = 170, width = 360;
  svg.setAttribute("viewBox", `0 0 ${left + width + 60} ${Math.max(1, items.length) * row + 10}`);
  const top = max ?? Math.max(1, ...items.map((i) => i.value || 0));
  items.forEach((item, k) => {
    const y = 5 + k * row;
    const w = Math.max(0, (item.value || 0) / top) * width;
    svg.append(svgEl("text", { x: 0, y: y + 15 }, item.label));
    svg.append(svgEl("rect", { class: item.flag ? "bar flag" : "bar", x: left, y, width: w, height: row - 8, "data-value": item.value ?? "" }));
    if (whiskers && item.low != null && item.high != null) {
      const mid = y + (row - 8) / 2;
      svg.append(svgEl("line", { class: "whisker", x1: left + Math.max(0, item.low) / top * width, x2: left + item.high / top * width, y1: mid, y2: mid }));
    }
    svg.append(svgEl("text", { x: left + w + 6, y: y + 15 }, item.text ?? String(item.value ?? "—")));
  });
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
  $("time").textContent = t("an_time_line", { n: data.time_saved.interviews, minutes: Math.round(data.time_saved.ai_interview_minutes) });
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
  $("fairness-note").textContent = data.fairness.collected ? "" : t("an_fairness_none");
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
