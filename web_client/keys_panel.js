// Admin page section: create (shown once), list and revoke API keys (server/routes/keys.py).
import { t, applyI18n } from "/static/i18n.js";
import { send } from "/static/http.js";

const $ = (id) => document.getElementById(id);
const SCOPES = ["interviews:read", "interviews:write", "results:read", "candidates:read", "webhooks:manage"];

async function call(method, path, body) {
  const init = { method, headers: { "Content-Type": "application/json" } };
  if (body) init.body = JSON.stringify(body);
  const res = await send(path, init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.message || `Error ${res.status}`);
  return data;
}

function renderScopes() {
  const box = $("key-scopes");
  if (box.childElementCount) return;
  for (const s of SCOPES) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" name="scope"> <span></span>`;
    label.querySelector("input").value = s;
    label.querySelector("span").dataset.i18n = `scope_${s}`;
    box.appendChild(label);
  }
}

async function renderList() {
  const keys = await call("GET", "/api/keys");
  const list = $("key-list");
  list.innerHTML = "";
  for (const k of keys) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td><td></td><td></td>";
    tr.children[0].textContent = `${k.name} (${k.prefix}…)`;
    tr.children[1].textContent = k.scopes.map((s) => t(`scope_${s}`)).join(", ");
    tr.children[2].textContent = k.last_used_at ? new Date(k.last_used_at).toLocaleString() : t("keys_never");
    if (k.revoked_at) tr.children[3].textContent = t("keys_revoked");
    else {
      const b = document.createElement("button");
      b.textContent = t("keys_revoke");
      b.addEventListener("click", async () => {
        if (!confirm(t("keys_revoke_confirm"))) return;
        await call("DELETE", `/api/keys/${k.id}`);
        renderList();
      });
      tr.children[3].appendChild(b);
    }
    list.appendChild(tr);
  }
}

let installed = false;
export async function showKeys() {
  $("keys-card").classList.remove("hidden");
  renderScopes();
  applyI18n($("keys-card"));
  if (!installed) {
    installed = true;
    $("key-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("key-error").textContent = "";
      const scopes = [...document.querySelectorAll("#key-scopes input:checked")].map((i) => i.value);
      if (!scopes.length) { $("key-error").textContent = t("keys_pick_scope"); return; }
      const jobs = $("key-jobs").value.split(",").map((s) => s.trim()).filter(Boolean);
      const body = { name: $("key-name").value, scopes };
      if (jobs.length) body.job_ids = jobs;
      if ($("key-expires").value) body.expires_at = new Date($("key-expires").value).toISOString();
      try {
        const made = await call("POST", "/api/keys", body);
        $("key-value").textContent = made.key;
        $("key-once").classList.remove("hidden");
        renderList();
      } catch (e) { $("key-error").textContent = e.message; }
    });
  }
  await renderList();
}
