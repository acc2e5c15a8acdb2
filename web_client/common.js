import { t } from "/static/i18n.js";

// Helpers shared by the live and review pages (the wire protocol itself is protocol.js).

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

const yesNo = (v) => t(v ? "ev_yes" : "ev_no");

export function describeEvent(e) {
  switch (e.type) {
    case "consent_recorded": return t("ev_consent", { rec: yesNo(e.recording), ai: yesNo(e.ai_analysis) });
    case "candidate_joined": return t("ev_joined", { n: e.segment });
    case "candidate_left": return t("ev_left", { reason: e.reason });
    case "media_started": return t(e.kind === "audio" ? "ev_audio" : "ev_video");
    case "question_shown": return `${t(`ev_q_${e.source}`)}: ${e.text}`;
    case "question_injected": return t("ev_injected", { by: e.by, text: e.text });
    case "answer_done": return t("ev_answer_done", { reason: t(`ev_reason_${e.reason}`) });
    case "recording_finalized": return t("ev_recording", { n: e.segment, s: e.duration.toFixed(1) });
    case "interview_ended": return t("ev_ended", { reason: e.reason });
    case "followup_suggested": return t("ev_followup", { text: e.text, reason: e.reason });
    case "transcript_final": return `“${e.text}”`;
    default: return t(`ev_${e.type}`) === `ev_${e.type}` ? e.type.replaceAll("_", " ") : t(`ev_${e.type}`);
  }
}
