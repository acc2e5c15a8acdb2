// Message types shared with the server (server/routes/candidate.py, observer.py; analysis/events.py).
export const ToServer = { OFFER: "offer", ANSWER_DONE: "answer_done", HEARTBEAT: "heartbeat", FINISH: "finish", INJECT_QUESTION: "inject_question" };
export const FromServer = { WELCOME: "welcome", ANSWER: "answer", QUESTION: "question", ENDED: "ended", ERROR: "error", HISTORY: "history", EVENT: "event" };

export function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

// Wait until ICE gathering completes (non-trickle signaling), at most `ms`.
export function iceGathered(pc, ms = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, ms);
  });
}

export function fmtTime(sec) {
  sec = Math.max(0, sec || 0);
  const m = Math.floor(sec / 60), s = Math.floor(sec % 60);
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

export function describeEvent(e) {
  switch (e.type) {
    case "consent_recorded": return `consent (recording ${e.recording ? "yes" : "no"}, AI ${e.ai_analysis ? "yes" : "no"})`;
    case "candidate_joined": return `candidate joined (segment ${e.segment})`;
    case "candidate_left": return `candidate left: ${e.reason}`;
    case "media_started": return `${e.kind} started`;
    case "question_shown": return `question (${e.source}): ${e.text}`;
    case "question_injected": return `${e.by} asked: ${e.text}`;
    case "answer_done": return `answer done (${e.reason})`;
    case "recording_finalized": return `recording saved (segment ${e.segment}, ${e.duration.toFixed(1)} s)`;
    case "interview_ended": return `interview ended: ${e.reason}`;
    case "transcript_final": return `“${e.text}”`;
    default: return e.type.replaceAll("_", " ");
  }
}
