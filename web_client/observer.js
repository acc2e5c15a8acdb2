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
  $("timeline").appendChild(li);
  li.scrollIntoView({ block: "nearest" });
}

function onEvent(e, live) {
  if (e.type === "transcript_partial") return showPartial(e);
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
    else if (msg.type === "answer" && pc) await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
    else if (msg.type === "error") $("inject-error").textContent = msg.message;
  };
  ws.onclose = (e) => { if (e.code === 4401 || e.code === 4403) return; setTimeout(connect, 2000); };
}

$("inject-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("inject-text").value.trim();
  $("inject-error").textContent = "";
  if (!text || !ws || ws.readyState !== 1) return;
  ws.send(JSON.stringify({ type: "inject_question", text }));
  $("inject-text").value = "";
});
$("unmute").addEventListener("click", () => { $("remote").muted = false; $("remote").play().catch(() => {}); });

connect();
