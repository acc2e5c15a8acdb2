import { applyI18n, installToggle, t } from "/static/i18n.js";
import { fmtTime, describeEvent } from "/static/common.js";
import { send as request } from "/static/http.js";
import { renderLlm } from "/static/llm_panel.js";

const iid = location.pathname.split("/").pop();
const $ = (id) => document.getElementById(id);
const player = $("player");
let segments = [], current = -1, span = 1, report = null, events = [];

installToggle($("lang"));
applyI18n();
$("report-link").href = `/report/${iid}`;
$("pdf-link").href = `/api/interviews/${iid}/report.pdf`;

async function getJson(url) {
  const r = await request(url);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { const e = new Error(body.message || `${url}: ${r.status}`); e.status = r.status; e.code = body.error; throw e; }
  return body;
}

async function postJson(url, data) {
  const r = await request(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || `${r.status}`);
  return body;
}

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

// -- player: segments on the interview clock -------------------------------------------

function segmentAt(tt) {
  let best = 0;
  segments.forEach((s, i) => { if (tt >= s.start) best = i; });
  return best;
}

function load(i, offset = 0, play = false) {
  if (i < 0 || i >= segments.length) return;
  if (current !== i) { current = i; player.src = segments[i].url; }
  const go = () => { player.currentTime = Math.max(0, offset); if (play) player.play().catch(() => {}); };
  if (player.readyState >= 1 && current === i) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  renderSegments();
}

export function seekTo(tt) {
  if (!segments.length) return;
  const i = segmentAt(tt);
  load(i, tt - segments[i].start, true);
}
window.candorSeekTo = seekTo;

function clockNow() { return current >= 0 ? segments[current].start + player.currentTime : 0; }

function renderSegments() {
  $("segments").innerHTML = "";
  segments.forEach((s, i) => {
    const b = el("button", {}, `${i + 1} (${fmtTime(s.duration)})`);
    b.className = i === current ? "primary" : "";
    b.onclick = () => load(i, 0, true);
    $("segments").appendChild(b);
  });
}

function item(listId, e, text) {
  const li = el("li", { class: "seekable" });
  li.dataset.t = e.start ?? e.t; li.dataset.type = e.type;
  li.append(el("span", { class: "time" }, fmtTime(Number(li.dataset.t))), el("span", { class: "what" }, text));
  li.onclick = () => seekTo(Number(li.dataset.t));
  $(listId).appendChild(li);
}

player.addEventListener("ended", () => { if (current + 1 < segments.length) load(current + 1, 0, true); });
player.addEventListener("timeupdate", () => {
  const now = clockNow();
  let last = null;
  for (const li of $("transcript").children) { li.classList.remove("current"); if (Number(li.dataset.t) <= now) last = li; }
  if (last) last.classList.add("current");
  $("playhead").style.left = `${(100 * now) / span}%`;
});

// -- timeline bar with markers, delivery chart ----------------------------------------

const pct = (tt) => `${Math.min(100, Math.max(0, (100 * tt) / span))}%`;

function renderBar() {
  const bar = $("bar");
  bar.querySelectorAll(".seg, .marker").forEach((n) => n.remove());
  for (const s of segments) {
    const d = el("div", { class: "seg" });
    d.style.left = pct(s.start); d.style.width = `${(100 * s.duration) / span}%`;
    bar.prepend(d);
  }
  for (const e of events) {
    let kind = null, text = "";
    if (e.type === "question_shown") { kind = e.source === "followup" ? "followup" : e.source === "observer" ? "observer" : "plan"; text = e.text; }
    else if (e.type === "question_injected") { kind = "injected"; text = `${e.by}: ${e.text}`; }
    if (!kind) continue;
    const m = el("button", { class: `marker m-${kind}`, title: `${fmtTime(e.t)} ${text}`, "data-kind": kind, "data-t": e.t });
    m.style.left = pct(e.t);
    m.onclick = (ev) => { ev.stopPropagation(); seekTo(e.t); };
    bar.appendChild(m);
  }
  bar.onclick = (ev) => { const r = bar.getBoundingClientRect(); seekTo(((ev.clientX - r.left) / r.width) * span); };
}

function renderDelivery() {
  const svg = $("delivery");
  svg.innerHTML = "";
  const ns = "http://www.w3.org/2000/svg";
  const x = (tt) => (1000 * tt) / span;
  const add = (tag, attrs) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); svg.appendChild(n); return n; };
  for (const v of events.filter((e) => e.type === "voice_delivery_summarized")) {
    const top = v.unit === "char" ? 400 : 250;
    const h = Math.min(1, (v.speaking_rate || 0) / top) * 60;
    const r = add("rect", { x: x(v.start), y: 85 - h, width: Math.max(2, x(v.end) - x(v.start)), height: h, fill: "#93b4ff" });
    const title = document.createElementNS(ns, "title");
    title.textContent = `${t("rv_speaking_rate")}: ${Math.round(v.speaking_rate || 0)} ${v.unit === "char" ? "/min (字)" : "wpm"} · ${t("rv_pauses")}: ${Math.round(100 * (v.pause_ratio || 0))}%`;
    r.appendChild(title);
    if (v.pause_ratio != null) add("line", { x1: x(v.start), x2: x(v.end), y1: 85 - 60 * v.pause_ratio, y2: 85 - 60 * v.pause_ratio, stroke: "#b45309", "stroke-width": 2 });
  }
  const facing = events.filter((e) => e.type === "face_sampled" && e.facing != null);
  if (facing.length) add("polyline", { points: facing.map((e) => `${x(e.t)},${e.facing ? 15 : 30}`).join(" "), fill: "none", stroke: "#16a34a", "stroke-width": 1.5 });
  // Full mode only: smile and mouth-open samples (0..1) as thin lines in the lower band.
  for (const [key, colour] of [["smile", "#db2777"], ["mouth_open", "#7c3aed"]]) {
    const pts = events.filter((e) => e.type === "face_sampled" && e[key] != null);
    if (pts.length) add("polyline", { points: pts.map((e) => `${x(e.t)},${85 - 40 * e[key]}`).join(" "), fill: "none", stroke: colour, "stroke-width": 1, "data-measure": key });
  }
  for (const f of events.filter((e) => e.type === "face_delivery_summarized" && e.share_facing != null)) {
    add("rect", { x: x(f.start), y: 5, width: Math.max(2, x(f.end) - x(f.start)), height: 6, fill: "#16a34a", opacity: 0.25 + 0.75 * f.share_facing });
  }
}

// -- scores, evidence, focus points ---------------------------------------------------

function quoteButton(q, kind) {
  const b = el("button", { class: `quote ${kind}`, "data-t": q.start }, `${kind === "against" ? "−" : "+"} ${fmtTime(q.start)} “${q.text}”`);
  b.onclick = () => seekTo(q.start);
  return b;
}

function renderScores() {
  const r = report.report, score = r.score;
  $("total").textContent = `${t("rv_total")}: ${score.total == null ? "—" : Math.round(score.total)} / 100 · ${t("rv_scorer")}: ${score.scorer_version}`;
  $("recommendation").textContent = score.recommendation.text;
  const box = $("scores");
  box.innerHTML = "";
  const diffs = Object.fromEntries(r.rating_differences.map((d) => [d.competency_id, d]));
  for (const c of score.competencies) {
    const d = diffs[c.competency_id];
    const row = el("div", { class: `score-row${d && d.highlighted ? " gap" : ""}`, "data-competency": c.competency_id });
    const head = el("div");
    head.append(el("strong", {}, `${c.name} `), el("span", { class: "num" }, c.score == null ? t("rv_insufficient") : String(Math.round(c.score))));
    if (d && d.human != null) head.append(el("span", { class: "muted" }, ` · ${t("rv_human")} ${Math.round(d.human)} (${d.difference > 0 ? "+" : ""}${Math.round(d.difference)})`));
    row.append(head);
    for (const reason of c.reasons) row.append(el("div", { class: "muted" }, reason.message));
    const details = el("details");
    details.append(el("summary", {}, t("rv_evidence")));
    for (const ev of c.indicators) {
      details.append(el("div", { class: "muted" }, `${ev.indicator} — ${t("rv_ind_" + ev.status)}`));
      ev.support.slice(0, 4).forEach((q) => details.append(quoteButton(q, "support")));
      ev.against.slice(0, 3).forEach((q) => details.append(quoteButton(q, "against")));
    }
    if (c.indicators.length) details.open = true;
    row.append(details);
    box.append(row);
  }
  $("focus").innerHTML = "";
  for (const f of r.focus_points) $("focus").append(el("li", {}, f.text));
  renderLlm($("llm"), r);
}

// -- human ratings and decisions ------------------------------------------------------

// The behavioural anchors of levels 1, 3 and 5, shown beside the 1-5 choice so that
// people and the scorer rate against the same scale.
function anchorList(anchors) {
  const list = el("dl", { class: "anchors" });
  for (const level of ["1", "3", "5"]) {
    const text = anchors && anchors[level];
    if (!text) continue;
    list.append(el("dt", {}, t("rv_anchor_level").replace("{level}", level)), el("dd", {}, text));
  }
  return list;
}

// What each rating form last said (saved, or the error), and what the reviewer has chosen
// or typed but not saved: both outlive a re-render (the refresh after a save, a language
// switch), which used to wipe the "saved" line at once and any unsaved choice.
const ratingSaid = {};
function renderRatings() {
  const box = $("ratings");
  const typed = {};
  for (const f of box.querySelectorAll("form.rating[data-dirty]")) {
    typed[f.dataset.competency] = { score: f.elements.score.value, note: f.elements.note.value };
  }
  box.innerHTML = "";
  const mine = {};
  for (const r of report.ratings) mine[r.competency_id] = r;
  for (const c of report.competencies) {
    const form = el("form", { class: "rating", "data-competency": c.competency_id });
    const sel = el("select", { name: "score", "aria-label": c.name });
    sel.append(el("option", { value: "" }, "—"));
    for (let v = 1; v <= 5; v++) sel.append(el("option", { value: String(v) }, String(v)));
    const note = el("textarea", { name: "note", placeholder: t("rv_rating_note") });
    const prev = mine[c.competency_id];
    if (prev) { sel.value = String(Math.round(prev.value)); note.value = prev.note || ""; }
    const kept = typed[c.competency_id];
    if (kept) { sel.value = kept.score; note.value = kept.note; form.dataset.dirty = "1"; }
    const changed = () => { form.dataset.dirty = "1"; };
    sel.addEventListener("change", changed);
    note.addEventListener("input", changed);
    const save = el("button", { type: "submit" }, t("rv_save_rating"));
    const said = ratingSaid[c.competency_id];
    const msg = el("span", { class: "muted", role: "status" }, said ? (said.key ? t(said.key) : said.text) : "");
    form.append(el("label", {}, c.name), sel, anchorList(c.anchors), liveFor(c.competency_id), note, save, msg);
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      if (!sel.value) return;
      try {
        await postJson(`/api/interviews/${iid}/ratings`, { competency_id: c.competency_id, score: Number(sel.value), note: note.value });
        ratingSaid[c.competency_id] = { key: "rv_saved" };
        delete form.dataset.dirty;  // saved: the report's value is the form's from now on
        msg.textContent = t("rv_saved");
        await refreshReport();
      } catch (e) {
        ratingSaid[c.competency_id] = { text: String(e.message) };
        msg.textContent = String(e.message);
      }
    };
    box.append(form);
  }
}

function renderStatus(status) {
  $("status").textContent = t(`st_${status.status}`);
  const d = status.decision;
  $("decided").textContent = d ? `${d.person} · ${new Date(d.at).toLocaleString()}${d.note ? " · " + d.note : ""}` : "";
}

document.querySelectorAll("[data-decision]").forEach((b) => {
  b.onclick = async () => {
    const decision = b.dataset.decision;
    if (decision === "reject" && !confirm(t("rv_confirm_reject"))) return;
    $("decision-error").textContent = "";
    try {
      const body = await postJson(`/api/interviews/${iid}/decision`, { decision, note: $("decision-note").value });
      renderStatus(body.status);
    } catch (e) { $("decision-error").textContent = String(e.message); }
  };
});

async function refreshReport() {
  try {
    report = await getJson(`/api/interviews/${iid}/report.json`);
  } catch (e) {
    $("no-score").textContent = e.code === "not_finished" ? t("rv_no_score") : String(e.message);
    $("no-score").classList.remove("hidden");
    return;
  }
  if (report.report) renderScores();
  else { $("no-score").textContent = t("rv_no_ai"); $("no-score").classList.remove("hidden"); }
  renderRatings();
  renderLiveNotes();
  renderStatus(report.status);
  $("delivery-used").textContent = report.delivery_used_in_score ? t("rv_delivery_used") : t("rv_delivery_not_used");
}

let myEmail = "";

// Live ratings and private notes made on the observer page, beside the rating form; the
// observer may confirm their own live rating, which then counts as their rating.
function liveFor(competencyId) {
  const box = el("div", { class: "live-items" });
  for (const item of (report.live || []).filter((x) => x.kind === "rating" && x.competency_id === competencyId)) {
    const line = el("div", { class: "muted live-rating" }, t("live_rating_line", { score: item.score, by: item.by, at: fmtTime(item.t) }));
    if (item.confirmed) line.append(el("span", {}, ` · ${t("live_confirmed")}`));
    else if (item.by === myEmail) {
      const confirm = el("button", { type: "button", class: "confirm-live" }, t("live_confirm"));
      confirm.onclick = async () => {
        await postJson(`/api/interviews/${iid}/ratings`, { competency_id: competencyId, score: item.score, note: "Confirmed live rating" });
        await refreshReport();
      };
      line.append(" ", confirm);
    }
    box.append(line);
  }
  return box;
}

function renderLiveNotes() {
  const list = $("live-notes");
  list.innerHTML = "";
  const notes = (report.live || []).filter((x) => x.kind === "note");
  list.parentElement.classList.toggle("hidden", notes.length === 0);
  for (const n of notes) list.append(el("li", {}, `${fmtTime(n.t)} ${n.by}: ${n.text}`));
}

async function main() {
  myEmail = (await getJson("/api/me")).email || "";
  const info = await getJson(`/api/interviews/${iid}?page=review`);
  // The server refuses what the role may not do (server/policy.py); hide those controls.
  const can = info.can || [];
  if (!can.includes("interview.export")) $("pdf-link").classList.add("hidden");
  if (!can.includes("interview.decide")) document.querySelectorAll("#decision-note, [data-decision]").forEach((b) => b.classList.add("hidden"));
  $("who").textContent = `${info.candidate?.name || ""} · ${info.job?.title || ""}`;
  document.dispatchEvent(new CustomEvent("candor:interview", { detail: info })); // human_panel.js
  segments = (await getJson(`/api/interviews/${iid}/recordings`)).filter((s) => s.status === "final");
  events = await getJson(`/api/interviews/${iid}/events`);
  // The transcript of record (a second, offline pass per answer) replaces the live finals
  // of its answer; pending or failed answers keep the live text and say so.
  const records = new Map();
  for (const e of events) {
    if (e.type === "transcript_record" && !(e.status === "pending" && records.has(e.question_id))) records.set(e.question_id, e);
  }
  const spans = events.filter((e) => e.type === "question_answered" && records.get(e.question_id)?.status === "ready");
  const replaced = (f) => spans.some((a) => (f.start + f.end) / 2 >= a.started - 1.5 && (f.start + f.end) / 2 <= a.ended + 1.5);
  for (const e of events) {
    if (e.type === "transcript_partial" || e.type === "face_sampled") continue;
    if (e.type === "transcript_final" && !replaced(e)) item("transcript", e, e.text);
    if (e.type === "transcript_record" && records.get(e.question_id) === e) {
      // a ready record sits at its first word; a pending or failed one where its answer ended
      const at = e.status === "ready" && e.words.length ? e.start : e.t;
      item("transcript", { ...e, start: at }, e.status === "ready" ? e.text : t(`transcript_${e.status}`));
    }
    if (e.type === "transcript_record") continue;
    item("timeline", e, describeEvent(e));
  }
  const ends = [...segments.map((s) => s.start + s.duration), ...events.map((e) => e.end ?? e.t)];
  span = Math.max(1, ...ends);
  renderBar();
  renderDelivery();
  await refreshReport();
  if (!segments.length) { $("no-recording").classList.remove("hidden"); return; }
  load(0);
}
document.addEventListener("langchange", () => { if (report) { if (report.report) renderScores(); renderRatings(); renderStatus(report.status); } });
main().catch((e) => { $("no-recording").textContent = String(e.message || e); $("no-recording").classList.remove("hidden"); });
