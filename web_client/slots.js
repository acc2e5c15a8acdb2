// The candidate picks one of the time windows the recruiter offered; the calendar entry in
// the invitation is then re-sent for the chosen time (same entry, updated).
import { t, lang } from "/static/i18n.js";

function when(iso) {
  return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}

export async function mountSlots(box, token) {
  const res = await fetch(`/api/join/${token}/slots`);
  if (!res.ok) return;
  const { slots, chosen } = await res.json();
  if (!slots || !slots.length) return;
  box.classList.remove("hidden");
  const list = box.querySelector("[data-role=list]");
  const status = box.querySelector("[data-role=status]");
  list.innerHTML = "";
  for (const s of slots) {
    const label = document.createElement("label"); label.className = "check";
    const radio = document.createElement("input"); radio.type = "radio"; radio.name = "slot"; radio.value = s.start;
    radio.checked = !!chosen && chosen.start === s.start;
    const text = document.createElement("span"); text.textContent = `${when(s.start)} – ${when(s.end)}`;
    label.append(radio, text); list.append(label);
  }
  if (chosen) status.textContent = t("slot_chosen", { when: when(chosen.start) });
  box.querySelector("[data-role=save]").onclick = async () => {
    const pick = list.querySelector("input:checked");
    if (!pick) { status.textContent = t("slot_pick"); return; }
    const r = await fetch(`/api/join/${token}/slot`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ start: pick.value }) });
    const b = await r.json().catch(() => ({}));
    status.textContent = r.ok ? t("slot_chosen", { when: when(pick.value) }) : (b.message || `Error ${r.status}`);
  };
}
