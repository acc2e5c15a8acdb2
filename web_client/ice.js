// ICE servers come from the server (CANDOR_ICE_SERVERS): an empty list by default, so only
// host candidates are used and no STUN server is called. Never rely on a browser's default.
export async function rtcConfig(url) {
  try {
    const res = await fetch(url, { cache: "no-store" });
    if (res.ok) {
      const body = await res.json();
      return { iceServers: Array.isArray(body.iceServers) ? body.iceServers : [] };
    }
  } catch (e) { /* fall through: host candidates only */ }
  return { iceServers: [] };
}
