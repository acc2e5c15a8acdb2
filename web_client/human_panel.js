// Review page: schedule the human round for this candidate (docs/workflow.md). Shown when the
// interview came through a job's pipeline and the reader is a member of the job who may move
// its cards; the server checks again (job.pipeline.edit).
import { t } from "/static/i18n.js";
import { send } from "/static/http.js";

const $ = (id) => document.getElementById(id);
let where = null; // { job, candidate }

async function json(path, init) {
  const r = await send(path, init);
  return { ok: r.ok, body: await r.json().catch(() => ({})) };
}

// review.js announces the interview it loaded (its job and candidate): no second request.
async function load(info) {
  if (!info.job || !info.candidate) return;
  // Only for job members who may move its cards (interview.assign needs membership too):
  // asking the pipeline otherwise would only be refused, and every refusal is audited.
  const me = await json("/api/me");
  if (!(info.can || []).includes("interview.assign") || !(me.body.can || []).includes("job.pipeline.edit")) return;
  where = { job: info.job.id, candidate: info.candidate.id };
  await showStage();
}

async function showStage() {
  const card = await json(`/api/jobs/${where.job}/applications/${where.candidate}`);
  if (!card.ok) return; // not in a pipeline, or the pipeline is not for this reader
  $("human-card").classList.remove("hidden");
  $("human-board").href = `/jobs/${where.job}#board`;
  $("human-stage").textContent = t("stage_" + card.body.stage);
}

$("human-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = {
    interviewer_emails: $("hr-emails").value.split(/[,;\s]+/).filter(Boolean),
    starts_at: new Date($("hr-when").value).toISOString(),
    minutes: Number($("hr-minutes").value || 60),
    location: $("hr-where").value,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  const res = await json(`/api/jobs/${where.job}/applications/${where.candidate}/human-interview`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  $("human-status").textContent = res.ok ? t("wf_human_done") : (res.body.message || t("wf_error"));
  if (res.ok) $("human-stage").textContent = t("stage_human_interview");
});

document.addEventListener("candor:interview", (ev) => load(ev.detail));
document.addEventListener("langchange", () => { if (where) showStage(); });
