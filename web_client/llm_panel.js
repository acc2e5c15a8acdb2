// The optional LLM judge beside the scorer: its level, reason and verified quotes per answer
// and competency; answers where the two judges differ by 2 levels or more are flagged.
import { t } from "/static/i18n.js";
import { fmtTime } from "/static/common.js";

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

/** Fill ``box`` (hidden when the LLM judge did not run) from an InterviewReport. */
export function renderLlm(box, report) {
  const card = box.closest(".card") || box;
  const judgements = report.llm || [];
  card.classList.toggle("hidden", judgements.length === 0);
  box.innerHTML = "";
  if (!judgements.length) return;
  const names = Object.fromEntries(report.score.competencies.map((c) => [c.competency_id, c.name]));
  box.append(el("p", { class: "muted" }, t("llm_summary", { n: report.llm_differences, dropped: report.llm_dropped_quotes })));
  for (const j of judgements) {
    if (j.status !== "judged") {
      box.append(el("p", { class: "muted" }, t("llm_fallback", { question: j.question_id, error: j.error || "" })));
      continue;
    }
    for (const v of j.verdicts) {
      const p = el("p", { class: v.differs ? "llm-verdict gap" : "llm-verdict", "data-competency": v.competency_id });
      const det = v.deterministic_level == null ? "—" : String(v.deterministic_level);
      p.textContent = t("llm_verdict", { question: j.question_id, name: names[v.competency_id] || v.competency_id, level: v.level, det }) + (v.reason ? ` — ${v.reason}` : "");
      if (v.differs) p.append(el("strong", {}, ` ${t("llm_differs")}`));
      box.append(p);
      for (const q of v.quotes) box.append(el("p", { class: "quote" }, `${fmtTime(q.start)} “${q.text}”`));
    }
  }
}
