import { applyI18n, installToggle } from "/static/i18n.js";
import { fmtTime, describeEvent } from "/static/protocol.js";

const iid = location.pathname.split("/").pop();
const $ = (id) => document.getElementById(id);
const player = $("player");
let segments = [], current = -1;

installToggle($("lang"));
applyI18n();

async function getJson(url) { const r = await fetch(url); if (!r.ok) throw new Error(`${url}: ${r.status}`); return r.json(); }

function segmentAt(t) {
  let best = 0;
  segments.forEach((s, i) => { if (t >= s.start) best = i; });
  return best;
}

function load(i, offset = 0, play = false) {
  if (i < 0 || i >= segments.length) return;
  if (current !== i) { current = i; player.src = segments[i].url; }
  const go = () => { player.currentTime = Math.max(0, offset); if (play) player.play().catch(() => {}); };
  if (player.readyState >= 1 && current === i) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  renderSegments();
}

export function seekTo(t) {
  const i = segmentAt(t);
  load(i, t - segments[i].start, true);
}

function clockNow() { return current >= 0 ? segments[current].start + player.currentTime : 0; }

function renderSegments() {
  $("segments").innerHTML = "";
  segments.forEach((s, i) => {
    const b = document.createElement("button");
    b.textContent = `${i + 1} (${fmtTime(s.duration)})`;
    b.className = i === current ? "primary" : "";
    b.onclick = () => load(i, 0, true);
    $("segments").appendChild(b);
  });
}

function item(listId, e, text) {
  const li = document.createElement("li");
  li.className = "seekable"; li.dataset.t = e.start ?? e.t; li.dataset.type = e.type;
  li.innerHTML = `<span class="time"></span><span class="what"></span>`;
  li.querySelector(".time").textContent = fmtTime(Number(li.dataset.t));
  li.querySelector(".what").textContent = text;
  li.onclick = () => seekTo(Number(li.dataset.t));
  $(listId).appendChild(li);
}

player.addEventListener("ended", () => { if (current + 1 < segments.length) load(current + 1, 0, true); });
player.addEventListener("timeupdate", () => {
  const now = clockNow();
  let last = null;
  for (const li of $("transcript").children) { li.classList.remove("current"); if (Number(li.dataset.t) <= now) last = li; }
  if (last) last.classList.add("current");
});

async function main() {
  const info = await getJson(`/api/interviews/${iid}`);
  $("who").textContent = `${info.candidate?.name || ""} · ${info.job?.title || ""}`;
  segments = (await getJson(`/api/interviews/${iid}/recordings`)).filter((s) => s.status === "final");
  const events = await getJson(`/api/interviews/${iid}/events`);
  for (const e of events) {
    if (e.type === "transcript_partial") continue;
    if (e.type === "transcript_final") item("transcript", e, e.text);
    item("timeline", e, describeEvent(e));
  }
  if (!segments.length) { $("no-recording").classList.remove("hidden"); return; }
  load(0);
}
main().catch((e) => { $("no-recording").textContent = String(e); $("no-recording").classList.remove("hidden"); });
