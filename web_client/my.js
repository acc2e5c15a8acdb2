// The candidate's self-service page: what is held, download, withdraw AI consent, ask for deletion.
import { applyI18n, installToggle, t } from "/static/i18n.js";
import { send } from "/static/http.js";

const token = location.pathname.split("/").pop();
const api = `/api/my/${token}`;
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
const day = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const yes = (b) => t(b ? "my_yes" : "my_no");

function list(title, items, render) {
  const box = el("div");
  box.append(el("h3", {}, t(title)));
  if (!items.length) { box.append(el("p", { class: "muted" }, t("my_none"))); return box; }
  const ul = el("ul");
  for (const it of items) ul.append(el("li", {}, render(it)));
  box.append(ul);
  return box;
}

function render() {
  $("name").textContent = data.candidate.name;
  $("email").textContent = data.candidate.email || "—";
  $("download").href = `${api}/export.json`;
  const box = $("interviews");
  box.replaceChildren();
  for (const iv of data.interviews) {
    const card = el("section", { class: "card", "data-interview": iv.id });
    card.append(el("h2", {}, `${t("my_job")}: ${iv.job_title}`));
    card.append(el("p", { class: "muted" }, `${t("my_date")}: ${day(iv.started_at || iv.created_at)} · ${t("my_status")}: ${iv.status}`));
    card.append(list("my_consents", iv.consents, (c) => `${day(c.agreed_at)} · ${t("my_recording")}: ${yes(c.recording)} · ${t("my_ai")}: ${yes(c.ai_analysis)}`));
    const recs = el("div");
    recs.append(el("h3", {}, t("my_recordings")));
    if (!iv.recordings.length) recs.append(el("p", { class: "muted" }, t("my_none")));
    for (const r of iv.recordings.filter((r) => r.status === "final")) {
      const a = el("a", { class: "button", href: `${api}/recordings/${r.id}` }, t("my_download_recording", { n: r.segment }));
      recs.append(el("p")).append(a);
    }
    card.append(recs);
    card.append(list("my_transcript", iv.transcript, (x) => x.text));
    card.append(list("my_scores", iv.ai_scores, (x) => `${x.scorer_version}: ${x.total == null ? "—" : Math.round(x.total)}`));
    card.append(list("my_ratings", iv.ratings, (x) => `${x.competency_id}: ${x.score}${x.note ? " — " + x.note : ""}`));
    card.append(list("my_decisions", iv.decisions, (x) => `${day(x.at)} · ${x.decision}${x.note ? " — " + x.note : ""}`));
    card.append(list("my_messages", iv.messages, (x) => x.text));
    const sid = iv.self_identification;
    card.append(list("sid_my_title", sid ? [sid] : [], (x) => `${t("sid_gender")}: ${t(`sid_g_${x.gender}`)} · ${t("sid_age")}: ${t(`sid_a_${x.age_band}`)} · ${day(x.consented_at)}`));
    box.append(card);
  }
  $("selfid-box").classList.toggle("hidden", !data.interviews.some((iv) => iv.self_identification));
  $("ai-state").textContent = data.ai_analysis ? "" : t("my_ai_off");
  // Also offered when AI results are still held (analysis that ran on after a withdrawal).
  const aiResults = data.interviews.some((iv) => iv.transcript.length || iv.ai_scores.length);
  $("withdraw").disabled = !data.ai_analysis && !aiResults;
  $("delete-text").textContent = t("my_delete_text", { days: data.erasure_delay_days });
  const req = data.erasure_request;
  const held = data.interviews.some((iv) => iv.legal_hold);
  $("delete-state").textContent = req && req.status === "pending"
    ? t("my_delete_pending", { at: day(req.requested_at), due: day(req.due_at) }) + (held ? " " + t("my_delete_hold") : "")
    : "";
  $("delete").disabled = Boolean(req && req.status === "pending");
}

async function load() {
  const res = await fetch(api);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    $("error").textContent = body.error === "subject_erased" ? t("my_gone") : body.message || t("my_error");
    $("content").classList.add("hidden");
    return;
  }
  data = body;
  $("content").classList.remove("hidden");
  render();
}

async function post(path) {
  const res = await fetch(`${api}/${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || t("my_error"));
  return body;
}

$("withdraw").addEventListener("click", async () => {
  if (!confirm(t("my_withdraw_confirm"))) return;
  try { await post("withdraw-ai"); await load(); $("ai-state").textContent = t("my_withdrawn"); }
  catch (e) { $("error").textContent = e.message; }
});
$("delete").addEventListener("click", async () => {
  if (!confirm(t("my_delete_confirm"))) return;
  try { await post("erasure"); await load(); } catch (e) { $("error").textContent = e.message; }
});
$("selfid-withdraw").addEventListener("click", async () => {
  const res = await send(`${api}/self-id`, { method: "DELETE" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) { $("error").textContent = body.message || t("my_error"); return; }
  await load();
  $("selfid-box").classList.remove("hidden");
  $("selfid-state").textContent = t("sid_withdrawn");
  $("selfid-withdraw").disabled = true;
});
document.addEventListener("langchange", () => { if (data) render(); });
load();
