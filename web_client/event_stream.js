import { isDurable } from "/static/protocol_helpers.js";
import { send as request } from "/static/http.js";

// An interview's events applied once each, in log order (`seq`): duplicates are dropped, and a
// gap (an event whose seq is beyond the next one) is filled from the log before going on.

async function fetchAfter(iid, after) {
  const res = await request(`/api/interviews/${iid}/events?after=${after}`);
  if (!res.ok) throw new Error(`catch-up failed: ${res.status}`);
  return res.json();
}

export class EventStream {
  /** `apply(event, live)` shows one event; `fetchEvents(after)` returns stored events after a seq. */
  constructor(iid, apply, fetchEvents = (after) => fetchAfter(iid, after)) {
    this.apply = apply;
    this.fetchEvents = fetchEvents;
    this.lastSeq = 0;     // the newest stored event applied
    this.pending = [];    // events held while a catch-up runs
    this.catchingUp = false;
    this.duplicates = 0;
    this.catchUps = 0;
  }

  /** Start again from nothing (a first connect's full history follows). */
  reset() { this.lastSeq = 0; this.pending = []; }

  /** One event from the server (history or live). */
  receive(event, live, { resynced = false } = {}) {
    if (this.catchingUp) { this.pending.push([event, live]); return; }
    const durable = isDurable(event);
    if (durable && event.seq <= this.lastSeq) { this.duplicates += 1; return; }
    if (event.seq > this.lastSeq + (durable ? 1 : 0) && !resynced) {
      this.pending.push([event, live]);
      this.catchUp();
      return;
    }
    if (durable) this.lastSeq = event.seq;
    this.apply(event, live);
  }

  async catchUp() {
    this.catchingUp = true;
    this.catchUps += 1;
    let events = [];
    try { events = await this.fetchEvents(this.lastSeq); } catch (err) { console.warn(String(err)); }
    this.catchingUp = false;
    for (const e of events) this.receive(e, true, { resynced: true });
    const held = this.pending;
    this.pending = [];
    // Whatever is still beyond the log (deleted rows, a failed fetch) is taken as it is.
    for (const [e, live] of held) this.receive(e, live, { resynced: true });
  }
}
