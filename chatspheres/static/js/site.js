// Every page a signed-in member sees: the tab's one connection to the
// gateway (shared with the page's own modules through tabConnection()), the
// header's notifications, and the ringing card when a connection calls.
// Configuration comes from the #site-config data block in base.html.
//
// base.html loads this module async from <head>, so the socket's handshake
// runs while the rest of the page is still parsed; the parts that need the
// page's elements start once it is, and take the few frames that came first.
import { startNotifications } from "./notifications.js";
import { tabConnection } from "./realtime.js";
import { startRinging } from "./ringing.js";

const configElement = document.getElementById("site-config");
const config = configElement ? JSON.parse(configElement.textContent) : {};
const rt = tabConnection({ path: config.wsPath || "/ws/" });

const EARLY_TYPES = ["notification.new", "notification.unread", "ring.incoming", "ring.stopped"];
const early = [];
const stopHolding = EARLY_TYPES.map((type) => rt.on(type, (msg) => early.push(msg)));

function start() {
  for (const stop of stopHolding) stop();
  const handlers = { ...startNotifications(rt), ...startRinging(rt, config) };
  for (const msg of early.splice(0)) handlers[msg.type]?.(msg);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
else start();
