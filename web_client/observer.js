import { t, applyI18n, installToggle } from "/static/i18n.js";
import { ObserverIn, ObserverOut, EventType, Close, ErrorCode, FIELDS } from "/static/protocol.js";
import { encode, parse } from "/static/protocol_helpers.js";
import { wsUrl, iceGathered, fmtTime, describeEvent } from "/static/common.js";
import { EventStream } from "/static/event_stream.js";
import { send as request } from "/static/http.js";
import { rtcConfig } from "/static/ice.js";

const iid = location.pathname.split("/").pop();
const $ = (id) => document.getElementById(id);
let ws = null, pc = null, offerTimer = null, partialEl = null;
const stream = new EventStream(iid, (e, live) => onEvent(e, live));
window.candorEvents = stream; // for tests and debugging: lastSeq, duplicates, catchUps

installToggle($("lang"));
applyI18n();

request(`/api/interviews/${iid}`).then((r) => r.json()).then((b) => {
  $("who").textContent = `${b.candidate?.name || ""} · ${b.job?.title || ""}`;
  // The server refuses what the role may not do (server/policy.py); hide those controls.
  const can = b.can || [];
  if (!can.includes("interview.ask")) for (const id of ["inject-form", "approve", "skip"]) $(id).classList.add("hidden");
  if (!can.includes("interview.note")) for (const id of ["note", "save-note"]) $(id).classList.add("hidden");
});

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
  if (e.type === EventType.TRANSCRIPT_PARTIAL) return showPartial(e);
  if (e.type === EventType.FACE_SAMPLED) return showSignals(e);
  if (e.type === EventType.FOLLOWUP_SUGGESTED) { suggestion = e; $("suggestion-text").textContent = e.text; $("suggestion-reason").textContent = e.reason; $("suggestion").classList.remove("hidden"); }
  if ([EventType.FOLLOWUP_APPROVED, EventType.FOLLOWUP_SKIPPED, EventType.QUESTION_SHOWN].includes(e.type) && suggestion) { suggestion = null; $("suggestion").classList.add("hidden"); }
  if (e.type === EventType.QUESTION_SHOWN) markPlan(e.question_id);
  if (e.type === EventType.TRANSCRIPT_FINAL) showFinal(e);
  addEvent(e);
  if (e.type === EventType.CANDIDATE_JOINED || e.type === EventType.MEDIA_STARTED) { $("live-state").textContent = "live"; if (live) scheduleOffer(); }
  if (e.type === EventType.CANDIDATE_LEFT) $("live-state").textContent = "offline";
  if (e.type === EventType.INTERVIEW_ENDED) $("live-state").textContent = "ended";
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

// Offers are answered in order on the socket: `offered` holds the connection each pending answer
// belongs to, so an answer to an offer that a newer one replaced is dropped, not applied to the
// newer connection (which would then never connect).
let offered = [];

async function offer() {
  if (!ws || ws.readyState !== 1) return;
  const config = await rtcConfig(`/api/interviews/${iid}/ice`);
  if (!ws || ws.readyState !== 1) return;
  if (pc) pc.close();
  const mine = new RTCPeerConnection(config);
  pc = mine;
  mine.addTransceiver("video", { direction: "recvonly" });
  mine.addTransceiver("audio", { direction: "recvonly" });
  const media = new MediaStream();
  mine.ontrack = (ev) => { media.addTrack(ev.track); $("remote").srcObject = media; $("video-note").classList.add("hidden"); $("remote").play().catch(() => {}); };
  mine.onconnectionstatechange = () => { if (pc === mine) $("remote").dataset.connection = mine.connectionState; };
  await mine.setLocalDescription(await mine.createOffer());
  await iceGathered(mine);
  if (pc !== mine || !ws || ws.readyState !== 1) return; // a newer offer took over meanwhile
  offered.push(mine);
  send({ type: ObserverIn.OFFER, sdp: mine.localDescription.sdp });
}

async function answered(msg) {
  const target = offered.shift();
  if (msg.type === ObserverOut.ANSWER && target === pc && pc.signalingState === "have-local-offer") {
    await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
  }
}

function connect() {
  // A reconnect asks only for what it has not seen, so no event is shown twice.
  ws = new WebSocket(wsUrl(`/ws/observer/${iid}?after=${stream.lastSeq}`));
  offered = [];
  ws.onopen = () => { resendUnanswered(); scheduleOffer(); };
  ws.onmessage = async (m) => {
    const msg = parse("ObserverOut", m.data);
    if (!msg) return;
    switch (msg.type) {
      case ObserverOut.HISTORY:
        if (msg.after === 0) { $("timeline").innerHTML = ""; $("transcript").innerHTML = ""; partialEl = null; stream.reset(); }
        msg.events.forEach((e) => stream.receive(e, false));
        break;
      case ObserverOut.EVENT: stream.receive(msg.event, true); break;
      case ObserverOut.VIEW: renderView(msg.view); break;
      case ObserverOut.ANSWER: await answered(msg); break;
      case ObserverOut.QUESTION_RECEIVED: unanswered.delete(msg.ask_id); window.candorUnanswered = unanswered.size; break;
      case ObserverOut.ERROR:
        if (msg.code === ErrorCode.BAD_SDP) await answered(msg);
        $("inject-error").textContent = msg.message;
        break;
    }
  };
  ws.onclose = (e) => { if (e.code === 4401 || e.code === 4403 || e.code === Close.UNKNOWN_TYPE) return; setTimeout(connect, 2000); };
}

function send(msg) {
  if (!ws || ws.readyState !== 1) return;
  try { ws.send(encode("ObserverIn", msg)); } catch (err) { $("inject-error").textContent = err.message; }
}

// Questions the server has not answered with `question_received`, by the page's id for each.
// A question on its way when the interview moved to another server gets no reply: it is sent
// again after the socket reconnects, with the same id, and the server applies it once.
const unanswered = new Map();
window.candorUnanswered = 0; // for tests: questions still waiting for the server's reply

function resendUnanswered() { for (const msg of unanswered.values()) send(msg); }

function inject(position) {
  const text = $("inject-text").value.trim();
  $("inject-error").textContent = "";
  if (!text) return;
  const askId = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  const msg = { type: ObserverIn.INJECT_QUESTION, text, position, ask_id: askId };
  try { encode("ObserverIn", msg); } catch (err) { $("inject-error").textContent = err.message; return; }
  unanswered.set(msg.ask_id, msg);
  window.candorUnanswered = unanswered.size;
  send(msg); // a closed socket sends it on reconnecting
  $("inject-text").value = "";
}
$("inject-form").addEventListener("submit", (ev) => { ev.preventDefault(); inject("now"); });
$("ask-next").addEventListener("click", () => inject("next"));
$("approve").addEventListener("click", () => suggestion && send({ type: ObserverIn.APPROVE_FOLLOWUP, question_id: suggestion.question_id }));
$("skip").addEventListener("click", () => suggestion && send({ type: ObserverIn.SKIP_FOLLOWUP, question_id: suggestion.question_id }));
$("save-note").addEventListener("click", () => { const text = $("note").value.trim(); if (text) { send({ type: ObserverIn.ADD_OBSERVER_NOTE, text }); $("note").value = ""; } });

function renderView(view) {
  if (!view || view.plan.observer_led) { $("plan").parentElement.classList.add("hidden"); $("ratings").parentElement.classList.add("hidden"); return; }
  $("plan").innerHTML = "";
  for (const q of view.plan.questions) {
    const li = document.createElement("li"); li.dataset.qid = q.id;
    li.textContent = `${q.competency_name || ""}: ${q.text}`;
    $("plan").appendChild(li);
  }
  const comps = new Map(view.plan.questions.filter((q) => q.competency_id).map((q) => [q.competency_id, q.competency_name]));
  const anchorsOf = new Map(view.plan.questions.filter((q) => q.competency_id).map((q) => [q.competency_id, q.anchors || {}]));
  $("ratings").innerHTML = "";
  for (const [id, name] of comps) {
    const row = document.createElement("p");
    row.innerHTML = `<label></label> <select><option value="">–</option>${[1, 2, 3, 4, 5].map((n) => `<option>${n}</option>`).join("")}</select>`;
    row.querySelector("label").textContent = name;
    // The behavioural anchors beside the 1-5 choice: the same scale the scorer uses.
    const anchors = anchorsOf.get(id) || {};
    const list = document.createElement("dl");
    list.className = "anchors";
    for (const level of ["1", "3", "5"]) {
      if (!anchors[level]) continue;
      const dt = document.createElement("dt"); dt.textContent = t("rv_anchor_level").replace("{level}", level);
      const dd = document.createElement("dd"); dd.textContent = anchors[level];
      list.append(dt, dd);
    }
    row.appendChild(list);
    row.querySelector("select").addEventListener("change", (ev) => ev.target.value && send({ type: ObserverIn.GIVE_LIVE_RATING, competency_id: id, score: Number(ev.target.value) }));
    $("ratings").appendChild(row);
  }
  if (view.current) markPlan(view.current.id);
}
function markPlan(qid) { for (const li of $("plan").children) li.classList.toggle("current", li.dataset.qid === qid); }
$("unmute").addEventListener("click", () => { $("remote").muted = false; $("remote").play().catch(() => {}); });

$("inject-text").maxLength = FIELDS.ObserverIn.inject_question.text.maxLength;
$("note").maxLength = FIELDS.ObserverIn.add_observer_note.text.maxLength;
connect();
