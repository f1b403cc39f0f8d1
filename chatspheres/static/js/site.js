// Every page a signed-in member sees: the tab's one connection to the
// gateway (shared with the page's own modules through tabConnection()), the
// header's notifications, and the ringing card when a connection calls.
// Configuration comes from the #site-config data block in base.html.
//
// base.html loads this module async from <head>, so the socket's handshake
// runs while the rest of the page is still parsed; the parts that need the
// page's elements start once it is, and take the few frames that came first.
import { startMessagesNav } from "./messages.js";
import { startNotifications } from "./notifications.js";
import { tabConnection } from "./realtime.js";
import { startRinging } from "./ringing.js";

const configElement = document.getElementById("site-config");
const config = configElement ? JSON.parse(configElement.textContent) : {};
const rt = tabConnection({ path: config.wsPath || "/ws/" });

const EARLY_TYPES = ["notification.new", "notification.unread", "ring.incoming", "ring.stopped"];
const early = [];
const stopHolding = EARLY_TYPES.map((type) => rt.on(type, (msg) => early.push(msg)));

// Why this tab stopped getting live updates, in words, for pages that say
// nothing of their own about it (the call page shows its own alert).
const STOPPED_WORDS = {
  "too-many-tabs": "This tab gets no live updates: too many ChatSpheres tabs are open. Close one, then reload this page.",
  "signed-out": "Your session ended. Sign in again to get live updates.",
  refused: "This tab gets no live updates right now. Reload the page to try again.",
};

function showStopped(detail) {
  if (document.getElementById("call")) return;
  const words = detail.closeReason || STOPPED_WORDS[detail.reason];
  if (!words || document.getElementById("live-stopped")) return;
  const notice = document.createElement("p");
  notice.id = "live-stopped";
  notice.className = "message message-error";
  notice.setAttribute("role", "status");
  notice.textContent = words;
  document.getElementById("main")?.prepend(notice);
}

let started = false;
let stopped = null;
rt.onState((state, detail = {}) => {
  if (state !== "closed" || !detail.reason || detail.reason === "client") return;
  stopped = detail;
  if (started) showStopped(detail);
});

function start() {
  for (const stop of stopHolding) stop();
  started = true;
  if (stopped) showStopped(stopped);
  startMessagesNav(rt);
  const handlers = { ...startNotifications(rt), ...startRinging(rt, config) };
  for (const msg of early.splice(0)) handlers[msg.type]?.(msg);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
else start();
