// How a call's RTCPeerConnection reaches the partner: the ICE servers the
// server sent with match.found, and the member's own "Hide my IP address"
// choice as iceTransportPolicy. With "relay" the browser gathers relay
// candidates only, so neither its local nor its public address ever reaches
// the partner. TURN credentials expire (at most an hour); a longer call gets
// fresh ones from the server before they do.

// Fetch fresh credentials this long before the old ones stop working (or
// halfway through their life, when it is shorter than twice that).
const RENEW_BEFORE_MS = 5 * 60_000;
// The side that makes offers restarts ICE this long after the renewal (at
// most halfway to the old credentials' end), so the other side has its own
// fresh credentials by the time the new offer comes.
const RESTART_AFTER_RENEW_MS = 60_000;
const RETRY_MS = 30_000;

/** The RTCConfiguration for a call, from match.found (or the renewal endpoint). */
export function peerConfiguration(msg) {
  const iceServers = Array.isArray(msg?.ice_servers) ? msg.ice_servers : [];
  const iceTransportPolicy = msg?.ice_transport_policy === "relay" ? "relay" : "all";
  return { iceServers, iceTransportPolicy };
}

/**
 * The peer connection for a call: the page's prepared one (made early to save
 * time) when that is safe, else a new one. A relay-only call always gets a new
 * connection built relay-only from its first moment.
 */
export function peerConnectionFor(msg, prepared) {
  const configuration = peerConfiguration(msg);
  if (prepared && configuration.iceTransportPolicy === "all" && prepared.signalingState === "stable") {
    try {
      if (configuration.iceServers.length) prepared.setConfiguration(configuration);
      return prepared;
    } catch {
      // Fall through to a new connection.
    }
  }
  prepared?.close();
  return new RTCPeerConnection(configuration);
}

/**
 * Keep a call's TURN credentials fresh: shortly before they expire, ask the
 * server for new ones (it checks the call is still this member's), give them
 * to the peer connection, and let the offering side restart ICE so the new
 * relay allocations replace the old. The call keeps the transport policy it
 * started with: a switch changed during a call applies from the next one.
 * Returns a function that stops it.
 */
export function keepIceFresh({ pc, conversation, expiresAt, url, csrfToken, isCurrent, restart }) {
  const { iceTransportPolicy } = pc.getConfiguration();
  let timer = null;
  let stopped = false;
  let restartAfter = RESTART_AFTER_RENEW_MS;

  function schedule(expiry) {
    if (stopped || !expiry) return;
    const left = Math.max(expiry * 1000 - Date.now(), 0);
    const lead = Math.min(RENEW_BEFORE_MS, left / 2);
    restartAfter = Math.min(RESTART_AFTER_RENEW_MS, lead / 2);
    timer = window.setTimeout(renew, left - lead);
  }

  async function renew() {
    timer = null;
    if (stopped || !isCurrent()) return;
    let fresh = null;
    try {
      const response = await fetch(url.replace("__conversation__", encodeURIComponent(conversation)), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken },
      });
      // 404: the call is over; 400: the site has no relay any more. Nothing to renew.
      if (response.status === 404 || response.status === 400) return;
      if (response.ok) fresh = await response.json();
    } catch {
      fresh = null;
    }
    if (stopped || !isCurrent()) return;
    if (!fresh) {
      timer = window.setTimeout(renew, RETRY_MS);
      return;
    }
    try {
      pc.setConfiguration({ ...peerConfiguration(fresh), iceTransportPolicy });
    } catch (error) {
      console.warn("call: could not use fresh ICE servers", error);
    }
    timer = window.setTimeout(() => {
      timer = null;
      if (!stopped && isCurrent()) restart();
      schedule(fresh.ice_expires_at);
    }, restartAfter);
  }

  schedule(expiresAt);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
