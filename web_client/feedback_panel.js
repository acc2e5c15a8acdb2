// Review page: the optional message to the candidate (docs/feedback.md). Shown only when
// the job enables candidate feedback; nothing is sent until a person presses Send.
import { t } from "/static/i18n.js";
import { send } from "/static/http.js";

const iid = location.pathname.split("/").pop();
const $ = (id) => document.getElementById(id);
let state = null;

async function load() {
  const r = await send(`/api/interviews/${iid}/feedback`);
  if (!r.ok) return null; // 409 feedback_disabled / not_finished: the panel stays hidden
  return r.json();
}

function render() {
  if (!state) return;
  $("feedback-card").classList.remove("hidden");
  const notes = [];
  if (!state.email.configured) notes.push(`${t("fb_not_configured")} ${state.email.hint || ""}`);
  if (!state.email.candidate_has_email) notes.push(t("fb_no_address"));
  if (state.sent) notes.push(t("fb_already"));
  $("feedback-email").textContent = notes.join(" ");
  $("feedback-send").disabled = state.sent;
  $("feedback-text").disabled = state.sent;
  const list = $("feedback-history");
  list.replaceChildren();
  for (const m of state.messages) {
    const li = document.createElement("li");
    const when = new Date(m.sent_at || m.approved_at).toLocaleString();
    const head = document.createElement("strong");
    head.textContent = t(`fb_status_${m.status}`);
    li.append(head, ` · ${m.approved_by} · ${when}${m.edited ? " · " + t("fb_edited") : ""}`);
    const text = document.createElement("div");
    text.textContent = m.text;
    li.append(text);
    if (m.detail) {
      const detail = document.createElement("div");
      detail.className = "muted";
      detail.textContent = m.detail;
      li.append(detail);
    }
    list.append(li);
  }
}

async function refresh(keepText) {
  const text = $("feedback-text").value;
  state = await load();
  if (!state) return;
  const sent = state.messages.find((m) => m.status === "sent");
  $("feedback-text").value = sent ? sent.text : keepText && text ? text : state.draft.text;
  $("feedback-text").maxLength = state.max_length;
  render();
}

$("feedback-send").addEventListener("click", async () => {
  if (!confirm(t("fb_confirm"))) return;
  $("feedback-error").textContent = "";
  const r = await send(`/api/interviews/${iid}/feedback`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text: $("feedback-text").value, send: true }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { $("feedback-error").textContent = body.message || String(r.status); return; }
  await refresh(true);
});

document.addEventListener("langchange", render);
refresh(false).catch((e) => { $("feedback-error").textContent = String(e.message || e); });
