// Admins edit the zh and en message templates (email and WeCom), preview them with sample
// data, and go back to the built-in text. The server checks every draft (placeholders, links).
import { t, applyI18n, installToggle, lang } from "/static/i18n.js";
import { send } from "/static/http.js";

const $ = (id) => document.getElementById(id);
let templates = [];
let current = null; // { key, language }

// Ask for errors in the page's language, whatever the browser's own setting.
async function call(path, method = "GET", body) {
  const headers = { "Accept-Language": lang === "zh" ? "zh-CN" : "en" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) { location.href = `/login?next=${encodeURIComponent(location.pathname)}`; throw new Error("sign-in"); }
  const data = await res.json().catch(() => ({}));
  return { ok: res.ok, status: res.status, data };
}

function label(key) { return t(`tpl_key_${key}`); }

async function load() {
  const { ok, status, data } = await call("/api/message-templates");
  if (!ok) { $("page-error").textContent = status === 403 ? t("tpl_admins_only") : (data.message || t("wf_error")); return; }
  templates = data;
  const keys = [...new Set(templates.map((x) => x.key))];
  $("tpl-list").innerHTML = "";
  for (const key of keys) {
    const tr = document.createElement("tr");
    tr.dataset.key = key;
    const name = document.createElement("td"); name.textContent = label(key);
    const channels = document.createElement("td");
    channels.textContent = templates.find((x) => x.key === key).channels.map((c) => t(`tpl_channel_${c}`)).join(", ");
    tr.append(name, channels);
    for (const language of ["zh", "en"]) {
      const item = templates.find((x) => x.key === key && x.language === language);
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.type = "button"; b.className = "tpl-edit"; b.dataset.lang = language; b.textContent = t("tpl_edit");
      b.addEventListener("click", () => open(key, language));
      td.append(b);
      if (item.edited) { const s = document.createElement("span"); s.className = "badge tpl-edited"; s.textContent = t("tpl_edited"); td.append(" ", s); }
      tr.append(td);
    }
    $("tpl-list").append(tr);
  }
}

function clearError() {
  $("tpl-error").textContent = "";
  for (const el of $("tpl-form").querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function showError(data) {
  $("tpl-error").textContent = data.message || t("wf_error");
  const field = data.details && data.details.field;
  if (field && $("tpl-form").elements[field]) { $("tpl-form").elements[field].setAttribute("aria-invalid", "true"); $("tpl-form").elements[field].focus(); }
}

function open(key, language) {
  const item = templates.find((x) => x.key === key && x.language === language);
  current = { key, language };
  $("editor").classList.remove("hidden");
  $("editor").dataset.key = key; $("editor").dataset.lang = language;
  $("editor-title").textContent = `${label(key)} · ${language === "zh" ? "中文" : "English"}`;
  $("tpl-subject").value = item.subject; $("tpl-text").value = item.text; $("tpl-html").value = item.html;
  $("placeholders").innerHTML = "";
  for (const p of item.placeholders) {
    const chip = document.createElement("button");
    chip.type = "button"; chip.className = "tpl-chip"; chip.textContent = `$${p}`;
    chip.title = item.required.includes(p) ? t("tpl_required") : "";
    chip.addEventListener("click", () => insert(`$${p}`));
    $("placeholders").append(chip);
  }
  $("tpl-status").textContent = item.edited ? t("tpl_is_edited") : t("tpl_is_default");
  $("tpl-reset").disabled = !item.edited;
  clearError();
  $("preview").classList.add("hidden");
  $("tpl-subject").focus();
}

// A placeholder chip goes where the cursor was in the last field used.
let lastField = null;
for (const id of ["tpl-subject", "tpl-text", "tpl-html"]) $(id).addEventListener("focus", () => { lastField = $(id); });
function insert(text) {
  const el = lastField || $("tpl-text");
  const at = el.selectionStart ?? el.value.length;
  el.value = el.value.slice(0, at) + text + el.value.slice(el.selectionEnd ?? at);
  el.focus(); el.selectionStart = el.selectionEnd = at + text.length;
}

function draft() { return { subject: $("tpl-subject").value, text: $("tpl-text").value, html: $("tpl-html").value }; }
const path = () => `/api/message-templates/${current.key}/${current.language}`;

// The rendered HTML is shown without anything active: no scripts, frames or event attributes.
function safeNodes(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.querySelectorAll("script,iframe,object,embed,form,style,link,meta").forEach((el) => el.remove());
  doc.querySelectorAll("*").forEach((el) => { for (const a of [...el.attributes]) if (a.name.startsWith("on") || a.name === "style" || /^\s*javascript:/i.test(a.value)) el.removeAttribute(a.name); });
  return [...doc.body.childNodes];
}

async function preview() {
  clearError();
  const { ok, data } = await call(`${path()}/preview`, "POST", draft());
  if (!ok) { showError(data); $("preview").classList.add("hidden"); return; }
  $("preview").classList.remove("hidden");
  $("pv-subject").textContent = data.subject;
  $("pv-text").textContent = data.text;
  $("pv-html").replaceChildren(...safeNodes(data.html));
  $("pv-wecom-box").classList.toggle("hidden", !data.wecom);
  $("pv-wecom").textContent = data.wecom || "";
}
$("tpl-preview").addEventListener("click", preview);

$("tpl-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearError();
  const { ok, data } = await call(path(), "PUT", draft());
  if (!ok) { showError(data); return; }
  const { key, language } = current;
  await load();
  open(key, language);
  $("tpl-status").textContent = t("tpl_saved");
  preview();
});

$("tpl-reset").addEventListener("click", async () => {
  if (!confirm(t("tpl_confirm_reset"))) return;
  const { ok, data } = await call(path(), "DELETE");
  if (!ok) { showError(data); return; }
  const { key, language } = current;
  await load();
  open(key, language);
  $("tpl-status").textContent = t("tpl_was_reset");
});

installToggle($("lang"));
applyI18n();
// A language switch relabels the page; a draft being edited stays as typed.
document.addEventListener("langchange", async () => {
  await load();
  if (current) $("editor-title").textContent = `${label(current.key)} · ${current.language === "zh" ? "中文" : "English"}`;
});
load();
