// Renders /api/openapi.json as a readable list of operations (no third-party viewer, no CDN).
import { t, applyI18n, installToggle } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
installToggle($("lang"));
applyI18n();

function deref(spec, schema) {
  const ref = schema && schema.$ref;
  return ref ? spec.components.schemas[ref.split("/").pop()] || {} : schema || {};
}

function schemaText(spec, schema, depth = 0) {
  schema = deref(spec, schema);
  if (depth > 3) return "…";
  if (schema.type === "array") return `[${schemaText(spec, schema.items, depth + 1)}]`;
  if (!schema.properties) return schema.type || (schema.anyOf ? schema.anyOf.map((s) => schemaText(spec, s, depth + 1)).join(" | ") : "any");
  const required = new Set(schema.required || []);
  const lines = Object.entries(schema.properties).map(([name, prop]) => {
    const inner = deref(spec, prop);
    const kind = inner.properties || inner.type === "array" ? schemaText(spec, prop, depth + 1) : inner.type || (inner.enum ? inner.enum.join("|") : inner.anyOf ? inner.anyOf.map((s) => deref(spec, s).type || "object").join("|") : "any");
    const note = inner.description ? `  // ${inner.description}` : "";
    return `${"  ".repeat(depth + 1)}${name}${required.has(name) ? "" : "?"}: ${kind}${note}`;
  });
  return `{\n${lines.join("\n")}\n${"  ".repeat(depth)}}`;
}

function block(title, text) {
  const d = document.createElement("div");
  const h = document.createElement("h4"); h.textContent = title;
  const pre = document.createElement("pre"); pre.textContent = text;
  d.append(h, pre);
  return d;
}

function render(spec, filter) {
  const root = $("ops");
  root.innerHTML = "";
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const line = `${method.toUpperCase()} ${path} ${op.summary || ""}`;
      if (filter && !line.toLowerCase().includes(filter)) continue;
      const card = document.createElement("details");
      card.className = "card";
      const sum = document.createElement("summary");
      const code = document.createElement("code"); code.textContent = `${method.toUpperCase()} ${path}`;
      sum.append(code, ` — ${op.summary || ""}`);
      card.appendChild(sum);
      if (op.description) { const p = document.createElement("p"); p.textContent = op.description; card.appendChild(p); }
      if (op.parameters) card.appendChild(block(t("docs_params"), op.parameters.map((p) => `${p.name} (${p.in})${p.required ? "" : "?"}${p.description ? ": " + p.description : ""}`).join("\n")));
      const body = op.requestBody && op.requestBody.content["application/json"];
      if (body) card.appendChild(block(t("docs_request"), schemaText(spec, body.schema)));
      for (const [status, resp] of Object.entries(op.responses)) {
        const r = resp.$ref ? spec.components.responses[resp.$ref.split("/").pop()] : resp;
        const [type, media] = Object.entries(r.content || {})[0] || ["", {}];
        const shape = type === "application/json" ? schemaText(spec, media.schema) : type;
        card.appendChild(block(`${status} ${r.description || ""}`, shape));
      }
      root.appendChild(card);
    }
  }
}

fetch("/api/openapi.json").then((r) => r.json()).then((spec) => {
  render(spec, "");
  $("filter").addEventListener("input", () => render(spec, $("filter").value.trim().toLowerCase()));
}).catch((e) => { $("page-error").textContent = e.message; });
