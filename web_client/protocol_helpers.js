// Hand-written checks over the generated message tables (protocol.js, written by
// scripts/gen_protocol.py): one source for the browser's encode/parse, imported by the pages.
import { FIELDS, LIVE_ONLY_EVENTS } from "/static/protocol.js";

/** Problems with a message about to be sent (empty when it fits): type, fields, limits. */
export function check(direction, msg) {
  const fields = FIELDS[direction]?.[msg?.type];
  if (!fields) return [`unknown ${direction} message type: ${msg?.type}`];
  const problems = [];
  for (const key of Object.keys(msg)) if (key !== "type" && !(key in fields)) problems.push(`${key}: not a field`);
  for (const [key, f] of Object.entries(fields)) {
    const v = msg[key];
    if (v === undefined || v === null) { if (f.required) problems.push(`${key}: required`); continue; }
    if (f.type === "string" && typeof v !== "string") { problems.push(`${key}: not text`); continue; }
    if ((f.type === "integer" || f.type === "number") && typeof v !== "number") { problems.push(`${key}: not a number`); continue; }
    if (f.type === "integer" && !Number.isInteger(v)) problems.push(`${key}: not a whole number`);
    if (f.type === "boolean" && typeof v !== "boolean") problems.push(`${key}: not true/false`);
    if (f.minLength !== undefined && v.length < f.minLength) problems.push(`${key}: at least ${f.minLength} characters`);
    if (f.maxLength !== undefined && v.length > f.maxLength) problems.push(`${key}: at most ${f.maxLength} characters`);
    if (f.pattern !== undefined && !new RegExp(f.pattern).test(v)) problems.push(`${key}: wrong format`);
    if (f.minimum !== undefined && v < f.minimum) problems.push(`${key}: at least ${f.minimum}`);
    if (f.maximum !== undefined && v > f.maximum) problems.push(`${key}: at most ${f.maximum}`);
    if (f.enum !== undefined && !f.enum.includes(v)) problems.push(`${key}: one of ${f.enum.join(", ")}`);
  }
  return problems;
}

/** A message to send as JSON text; throws if it does not fit the protocol. */
export function encode(direction, msg) {
  const problems = check(direction, msg);
  if (problems.length) throw new Error(`invalid ${msg?.type} message: ${problems.join("; ")}`);
  return JSON.stringify(msg);
}

/** A received message (JSON text), or null if it is not an object with a type known in `direction`. */
export function parse(direction, text) {
  let msg;
  try { msg = JSON.parse(text); } catch { return null; }
  if (!msg || typeof msg !== "object" || !FIELDS[direction]?.[msg.type]) return null;
  return msg;
}

/** Whether an event is stored in the interview's log (live-only events are not). */
export function isDurable(event) {
  return !LIVE_ONLY_EVENTS.includes(event.type);
}
