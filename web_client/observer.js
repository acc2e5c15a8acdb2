import { t, applyI18n, installToggle } from "/static/i18n.js";
import { wsUrl, iceGathered, fmtTime, describeEvent } from "/static/protocol.js";

const iid = location.pathname.split("/").pop();
const $ = (id) => document.getElementById(id);
let ws = null, pc = null, offerTimer = null, partialEl = null;

installToggle($("lang"));
applyI18n();

fetch(`/api/interviews/${iid}`).then((r) => r.json()).then((b) => { $("who").textContent = `${b.candidate?.name || ""} · ${b.job?.title || ""}`; });

function addEvent(e) {
  const li = document.createElement("li");
  li.dataset.type = e.type;
  li.innerHTML = `<span class="time"></span><span class="what"></span>`;
  li.querySelector(".time").textContent = fmtTime(e.t);
  li.querySelector(".what").textContent = describeEvent(e);
  const box = $("timeline");
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.appendChild(li);
  if (atEnd) box.scrollTop = box.scrollHeight;
}

let suggestion = null;
function showSignals(e) {
  const parts = [e.present ? `${t("sig_face")} ✓` : `${t("sig_face")} ✗`];
  if (e.faces > 1) parts.push(`⚠ ${t("sig_faces", { n: e.faces })}`);
  if (e.present) parts.push(e.facing ? t("sig_facing") : t("sig_away"));
  if (e.smile != null) parts.push(`${t("sig_smile")} ${Math.round(e.smile * 100)}%`);
  $("signals").textContent = parts.join(" · ");
}

function onEvent(e, live) {
  if (e.type === "transcript_partial") return showPartial(e);
  if (e.type === "face_sampled") return showSignals(e);
  if (e.type === "followup_suggested") { suggestion = e; $("suggestion-text").textContent = e.text; $("suggestion-reason").textContent = e.reason; $("suggestion").classList.remove("hidden"); }
  if (["followup_approved", "followup_skipped", "question_shown"].includes(e.type) && suggestion) { suggestion = null; $("suggestion").classList.add("hidden"); }
  if (e.type === "question_shown") markPlan(e.question_id);
  if (e.type === "transcript_final") showFinal(e);
  addEvent(e);
  if (e.type === "candidate_joined" || e.type === "media_started") { $("live-state").textContent = "live"; if (live) scheduleOffer(); }
  if (e.type === "candidate_left") $("live-state").textContent = "offline";
  if (e.type === "interview_ended") $("live-state").textContent = "ended";
}

function showPartial(e) {
  if (!partialEl) { partialEl = document.createElement("p"); partialEl.className = "partial"; $("transcript").appendChild(partialEl); }
  partialEl.textContent = e.text;
}
function showFinal(e) {
  if (partialEl) { partialEl.remove(); partialEl = null; }
  const p = document.createElement("p"); p.className = "final"; p.textContent = e.text; $("transcript").appendChild(p);
}

function scheduleOffer() { clearTimeout(offerTimer); offerTimer = setTimeout(offer, 400); }

async function offer() {
  if (!ws || ws.readyState !== 1) return;
  if (pc) pc.close();
  pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const media = new MediaStream();
  pc.ontrack = (ev) => { media.addTrack(ev.track); $("remote").srcObject = media; $("video-note").classList.add("hidden"); $("remote").play().catch(() => {}); };
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  ws.send(JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }));
}

function connect() {
  ws = new WebSocket(wsUrl(`/ws/observer/${iid}`));
  ws.onopen = () => scheduleOffer();
  ws.onmessage = async (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "history") { $("timeline").innerHTML = ""; $("transcript").innerHTML = ""; partialEl = null; msg.events.forEach((e) => onEvent(e, false)); }
    else if (msg.type === "event") onEvent(msg.event, true);
    else if (msg.type === "view") renderView(msg.view);
    else if (msg.type === "answer" && pc) await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
    else if (msg.type === "error") $("inject-error").textContent = msg.message;
  };
  ws.onclose = (e) => { if (e.code === 4401 || e.code === 4403) return; setTimeout(connect, 2000); };
}

function send(msg) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg)); }

function inject(position) {
  const text = $("inject-text").value.trim();
  $("inject-error").textContent = "";
  if (!text || !ws || ws.readyState !== 1) return;
  send({ type: "inject_question", text, position });
  $("inject-text").value = "";
}
$("inject-form").addEventListener("submit", (ev) => { ev.preventDefault(); inject("now"); });
$("ask-next").addEventListener("click", () => inject("next"));
$("approve").addEventListener("click", () => suggestion && send({ type: "approve_followup", question_id: suggestion.question_id }));
$("skip").addEventListener("click", () => suggestion && send({ type: "skip_followup", question_id: suggestion.question_id }));
$("save-note").addEventListener("click", () => { const text = $("note").value.trim(); if (text) { send({ type: "add_observer_note", text }); $("note").value = ""; } });

function renderView(view) {
  if (!view) { $("plan").parentElement.classList.add("hidden"); $("ratings").parentElement.classList.add("hidden"); return; }
  $("plan").innerHTML = "";
  for (const q of view.plan.questions) {
    const li = document.createElement("li"); li.dataset.qid = q.id;
    li.textContent = `${q.competency_name || ""}: ${q.text}`;
    $("plan").appendChild(li);
  }
  const comps = new Map(view.plan.questions.filter((q) => q.competency_id).map((q) => [q.competency_id, q.competency_name]));
  $("ratings").innerHTML = "";
  for (const [id, name] of comps) {
    const row = document.createElement("p");
    row.innerHTML = `<label></label> <select><option value="">–</option>${[1, 2, 3, 4, 5].map((n) => `<option>${n}</option>`).join("")}</select>`;
    row.querySelector("label").textContent = name;
    row.querySelector("select").addEventListener("change", (ev) => ev.target.value && send({ type: "give_live_rating", competency_id: id, score: Number(ev.target.value) }));
    $("ratings").appendChild(row);
  }
  if (view.current) markPlan(view.current.id);
}
function markPlan(qid) { for (const li of $("plan").children) li.classList.toggle("current", li.dataset.qid === qid); }
$("unmute").addEventListener("click", () => { $("remote").muted = false; $("remote").play().catch(() => {}); });

connect();
