// The optional self-identification form after the interview (gender, age band), with a
// consent of its own. Stored apart and encrypted; never shown to reviewers or the AI scorer
// (docs/fairness.md). Skipping it is fine; the answers can be withdrawn here or on /my.
import { t } from "/static/i18n.js";
import { send, sendJson } from "/static/http.js";

// The version of the consent text in i18n.js (sid_*): the server refuses any other.
export const SELFID_VERSION = "selfid-2026-11";
const GENDERS = ["prefer_not_to_say", "female", "male", "another"];
const AGE_BANDS = ["prefer_not_to_say", "under_25", "25_34", "35_44", "45_54", "55_plus"];

function fill(select, values, prefix) {
  const chosen = select.value || values[0];
  select.replaceChildren(...values.map((v) => new Option(t(`${prefix}${v}`), v)));
  select.value = chosen;
}

export function mountSelfId(form, token) {
  const gender = form.querySelector("[name=gender]");
  const age = form.querySelector("[name=age_band]");
  const consent = form.querySelector("[name=consent]");
  const sendButton = form.querySelector("[data-role=send]");
  const withdraw = form.querySelector("[data-role=withdraw]");
  const status = form.querySelector("[data-role=status]");
  const labels = () => { fill(gender, GENDERS, "sid_g_"); fill(age, AGE_BANDS, "sid_a_"); };
  labels();
  if (!form.dataset.mounted) document.addEventListener("langchange", labels);
  form.dataset.mounted = "1";
  consent.onchange = () => { sendButton.disabled = !consent.checked; };
  form.classList.remove("hidden");
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const res = await sendJson(`/api/join/${token}/self-id`, {
      consent: consent.checked, consent_version: SELFID_VERSION, gender: gender.value, age_band: age.value,
    });
    const body = await res.json().catch(() => ({}));
    status.textContent = res.ok ? t("sid_saved") : body.message || t("sid_failed");
    withdraw.classList.toggle("hidden", !res.ok);
  };
  withdraw.onclick = async () => {
    const res = await send(`/api/join/${token}/self-id`, { method: "DELETE" });
    status.textContent = res.ok ? t("sid_withdrawn") : t("sid_failed");
    if (res.ok) { withdraw.classList.add("hidden"); consent.checked = false; sendButton.disabled = true; }
  };
}
