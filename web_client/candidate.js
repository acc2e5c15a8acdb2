import { t, applyI18n, installToggle, setLang, lang } from "/static/i18n.js";
import { CandidateIn, CandidateOut, Close } from "/static/protocol.js";
import { encode, parse } from "/static/protocol_helpers.js";
import { wsUrl, iceGathered } from "/static/common.js";
import { send as request } from "/static/http.js";
import { rtcConfig } from "/static/ice.js";
import { unsupportedReason, showOpenInBrowser } from "/static/browser_check.js";
import { mountSurvey } from "/static/survey.js";
import { mountSelfId } from "/static/selfid.js";
import { mountSlots } from "/static/slots.js";

const token = location.pathname.split("/").pop();
const $ = (id) => document.getElementById(id);
let notice = null, stream = null, ws = null, pc = null, currentQuestion = null, finished = false, retries = 0;

function show(id) { for (const s of ["consent", "device", "room", "ended", "fatal", "browser"]) $(s).classList.toggle("hidden", s !== id); }
function fatal(msg) { $("fatal-text").textContent = msg; show("fatal"); }

async function start() {
  installToggle($("lang"));
  applyI18n();
  document.addEventListener("langchange", renderNotice);
  const res = await request(`/api/join/${token}`);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) return fatal(body.message || `Error ${res.status}`);
  notice = body;
  if (!new URLSearchParams(location.search).get("lang") && !localStorage.getItem("candor.lang")) setLang(notice.language);
  $("lang").textContent = t("lang_toggle");
  renderNotice();
  const unsupported = unsupportedReason();
  if (unsupported) { showOpenInBrowser($("browser"), unsupported); return show("browser"); }
  if (notice.consented) return deviceCheck();
  show("consent");
  mountSlots($("slots"), token);
}

function renderNotice() {
  if (!notice) return;
  $("job-title").textContent = notice.job_title;
  $("retention").textContent = t("consent_retention", { days: notice.retention_days });
  $("facial").textContent = t(`facial_${notice.facial_analysis}`);
  $("notice-version").textContent = notice.notice_version;
  document.querySelectorAll(".rights-link").forEach((a) => { a.href = notice.rights_url; });
}

$("agree-recording").addEventListener("change", (e) => { $("consent-continue").disabled = !e.target.checked; });
$("consent-continue").addEventListener("click", async () => {
  $("consent-error").textContent = "";
  const res = await request(`/api/join/${token}/consent`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ recording: $("agree-recording").checked, ai_analysis: $("agree-ai").checked, notice_version: notice.notice_version }),
  });
  if (!res.ok) { const b = await res.json().catch(() => ({})); $("consent-error").textContent = b.message || `Error ${res.status}`; return; }
  deviceCheck();
});

async function deviceCheck() {
  show("device");
  $("device-error").textContent = "";
  $("device-retry").classList.add("hidden");
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    $("device-error").textContent = t("err_insecure"); return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 30 } } });
  } catch (err) {
    const key = { NotAllowedError: "err_denied", SecurityError: "err_denied", NotFoundError: "err_notfound", OverconstrainedError: "err_notfound", NotReadableError: "err_busy", AbortError: "err_busy" }[err.name];
    $("device-error").textContent = key ? t(key) : `${t("err_generic")} ${err.message}`;
    $("device-retry").classList.remove("hidden");
    return;
  }
  $("preview").srcObject = stream;
  meter(stream);
  $("join").disabled = false;
}
$("device-retry").addEventListener("click", deviceCheck);

function meter(s) {
  if (!s.getAudioTracks().length) return;
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  ctx.createMediaStreamSource(s).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const tick = () => {
    analyser.getByteTimeDomainData(data);
    let peak = 0; for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    $("level").style.width = `${Math.min(100, (peak / 128) * 300)}%`;
    requestAnimationFrame(tick);
  };
  tick();
}

$("join").addEventListener("click", () => { show("room"); $("self").srcObject = stream; $("question").textContent = t("waiting_question"); connect(); });

function connect() {
  $("room-status").textContent = t("connecting");
  ws = new WebSocket(wsUrl(`/ws/candidate/${token}`));
  ws.onopen = offer;
  ws.onmessage = (m) => { const msg = parse("CandidateOut", m.data); if (msg) onMessage(msg); };
  ws.onclose = (e) => {
    if (pc) { pc.close(); pc = null; }
    if (finished || e.code === 1000) return;
    if (e.code === Close.REPLACED) return fatal(e.reason);
    if (e.code >= 4400 && e.code < 4500 && e.code !== Close.UNKNOWN_TYPE) return fatal(e.reason || `Error ${e.code}`);
    $("room-status").textContent = t("reconnecting");
    retries += 1;
    setTimeout(connect, Math.min(10000, 1000 * retries));
  };
}

async function offer() {
  const config = await rtcConfig(`/api/join/${token}/ice`);
  pc = new RTCPeerConnection(config);
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  pc.onconnectionstatechange = () => { if (pc && pc.connectionState === "connected") { retries = 0; $("room-status").textContent = t("connected"); } };
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  send({ type: CandidateIn.OFFER, sdp: pc.localDescription.sdp });
}

async function onMessage(msg) {
  switch (msg.type) {
    case CandidateOut.ANSWER: await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp }); break;
    case CandidateOut.SHOW_GREETING: showGreeting(msg); break;
    case CandidateOut.SHOW_QUESTION: showQuestion(msg); break;
    case CandidateOut.ANSWER_CLOCK_STARTED: startClock(msg.time_left, "time_left"); break;
    case CandidateOut.SHOW_ACKNOWLEDGEMENT: $("ack").textContent = msg.text; $("answer-done").disabled = true; stopClock(); break;
    case CandidateOut.SHOW_COMPLETION: completion = msg; break;
    case CandidateOut.ENDED: endScreen(); break;
    case CandidateOut.ERROR: $("room-status").textContent = msg.message; break;
  }
}

let completion = null, clockTimer = null;

function endScreen() {
  finished = true;
  stopClock();
  if (stream) stream.getTracks().forEach((tr) => tr.stop());
  if (completion) { $("ended-text").textContent = completion.text; $("next-steps").textContent = completion.next_steps; }
  show("ended");
  mountSurvey($("survey"), token);
  mountSelfId($("selfid"), token);
}

function stopClock() { clearInterval(clockTimer); $("timer").classList.add("hidden"); }

function startClock(seconds, label) {
  stopClock();
  const until = Date.now() + seconds * 1000;
  const el = $("timer");
  const tick = () => {
    const left = Math.max(0, Math.round((until - Date.now()) / 1000));
    el.textContent = `${t(label)} ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  };
  el.classList.remove("hidden");
  tick();
  clockTimer = setInterval(tick, 500);
}

function showGreeting(msg) {
  $("question").textContent = msg.text;
  $("ready").classList.remove("hidden");
  $("ready").focus();
  speak(msg.text, msg.language);
}

$("ready").addEventListener("click", () => {
  $("ready").classList.add("hidden");
  send({ type: CandidateIn.READY });
});

function speak(text, language) {
  if (!("speechSynthesis" in window)) return;
  try { const u = new SpeechSynthesisUtterance(text); u.lang = (language || lang) === "zh" ? "zh-CN" : "en-US"; speechSynthesis.cancel(); speechSynthesis.speak(u); } catch (_) { /* captions are on screen */ }
}

function showQuestion(msg) {
  currentQuestion = msg;
  $("room-status").textContent = "";
  $("ready").classList.add("hidden");
  $("ack").textContent = "";
  $("question").textContent = msg.text;
  $("progress").textContent = msg.progress || (msg.index && msg.total ? `${msg.index} / ${msg.total}` : "");
  $("answer-done").disabled = false;
  $("answer-done").focus();
  if (msg.answering) startClock(msg.time_left, "time_left");
  else if (msg.thinking_left > 0) startClock(msg.thinking_left, "thinking");
  else if (msg.time_left) startClock(msg.time_left, "time_left");
  if (msg.resumed) return;
  speak(msg.text, msg.language);
}

$("answer-done").addEventListener("click", () => {
  if (!ws || ws.readyState !== 1 || !currentQuestion) return;
  send({ type: CandidateIn.ANSWER_DONE, question_id: currentQuestion.question_id });
  $("answer-done").disabled = true;
});
$("finish").addEventListener("click", () => {
  if (!confirm(t("finish_confirm"))) return;
  finished = true;
  send({ type: CandidateIn.FINISH });
});
setInterval(() => send({ type: CandidateIn.HEARTBEAT }), 15000);

function send(msg) { if (ws && ws.readyState === 1) ws.send(encode("CandidateIn", msg)); }

start().catch((e) => fatal(String(e)));
