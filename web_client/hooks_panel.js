// Admin page section: webhook endpoints, their delivery log, enable and redeliver
// (server/routes/webhooks.py).
import { t, applyI18n } from "/static/i18n.js";
import { send } from "/static/http.js";

const $ = (id) => document.getElementById(id);

async function call(method, path, body) {
  const init = { method, headers: { "Content-Type": "application/json" } };
  if (body) init.body = JSON.stringify(body);
  const res = await send(path, init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.message || `Error ${res.status}`);
  return data;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = t(label);
  b.addEventListener("click", () => onClick().catch((e) => { $("hook-error").textContent = e.message; }));
  return b;
}

async function showLog(hook) {
  const rows = await call("GET", `/api/webhooks/${hook.id}/deliveries?limit=50`);
  const body = $("hook-log-body");
  body.innerHTML = "";
  for (const a of rows) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td><td></td><td></td><td></td>";
    tr.children[0].textContent = `${a.event_type} (${a.status})`;
    tr.children[1].textContent = `${a.attempt} · ${new Date(a.at).toLocaleString()}`;
    tr.children[2].textContent = a.response_code ?? a.error;
    tr.children[3].textContent = a.latency_ms;
    tr.children[4].appendChild(button("hooks_redeliver", async () => {
      await call("POST", `/api/webhooks/${hook.id}/messages/${a.message_id}/redeliver`);
      await showLog(hook);
    }));
    body.appendChild(tr);
  }
  $("hook-log").classList.remove("hidden");
  applyI18n($("hook-log"));
}

async function renderList() {
  const hooks = await call("GET", "/api/webhooks");
  const list = $("hook-list");
  list.innerHTML = "";
  for (const h of hooks) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td><td></td>";
    tr.children[0].textContent = `${h.url} · ${h.events.join(", ")}`;
    tr.children[1].textContent = h.disabled_at ? `${t("hooks_off")}: ${h.disabled_reason}` : t("hooks_on");
    if (h.disabled_at) tr.children[2].appendChild(button("hooks_enable", async () => { await call("POST", `/api/webhooks/${h.id}/enable`); await renderList(); }));
    tr.children[2].appendChild(button("hooks_log", () => showLog(h)));
    tr.children[2].appendChild(button("hooks_delete", async () => {
      if (!confirm(t("hooks_delete_confirm"))) return;
      await call("DELETE", `/api/webhooks/${h.id}`);
      await renderList();
    }));
    list.appendChild(tr);
  }
}

let installed = false;
export async function showHooks() {
  $("hooks-card").classList.remove("hidden");
  applyI18n($("hooks-card"));
  if (!installed) {
    installed = true;
    $("hook-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("hook-error").textContent = "";
      try {
        const made = await call("POST", "/api/webhooks", { url: $("hook-url").value, events: ["*"] });
        $("hook-secret").textContent = made.secret;
        $("hook-once").classList.remove("hidden");
        await renderList();
      } catch (e) { $("hook-error").textContent = e.message; }
    });
  }
  await renderList();
}
