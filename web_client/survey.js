// The optional satisfaction survey after the interview (1-5 and a comment). Kept apart from
// the interview's scoring data on the server; skipping it is fine.
import { t } from "/static/i18n.js";

export function mountSurvey(form, token) {
  const stars = form.querySelector("[data-role=stars]");
  stars.innerHTML = "";
  let rating = 0;
  for (let i = 1; i <= 5; i++) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "star"; b.textContent = String(i);
    b.setAttribute("aria-label", t("survey_rate", { n: i }));
    b.addEventListener("click", () => {
      rating = i;
      stars.querySelectorAll("button").forEach((el, k) => el.classList.toggle("on", k < i));
      form.querySelector("[data-role=send]").disabled = false;
    });
    stars.append(b);
  }
  form.classList.remove("hidden");
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const comment = form.querySelector("textarea").value;
    const res = await fetch(`/api/join/${token}/survey`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ rating, comment }),
    });
    const status = form.querySelector("[data-role=status]");
    status.textContent = res.ok ? t("survey_thanks") : t("survey_failed");
    if (res.ok) form.querySelectorAll("button, textarea").forEach((el) => { el.disabled = true; });
  };
}
