// Soft start: in a first meeting the partner's video stays blurred until both
// press "Reveal", or until the server's timeout passes. Audio plays all along.
// The server decides at match time (match.found's soft_start); a press sends
// `reveal`, and the partner's press arrives as `call.revealed`.
// call.js calls softStartBegin when a call starts and softStartEnd when it ends.
import { tabConnection } from "./realtime.js";

const byId = (id) => document.getElementById(id);
const root = byId("call");
const els = {
  panel: byId("reveal"),
  intro: byId("reveal-intro"),
  status: byId("reveal-status"),
  button: byId("reveal-button"),
};

let rt = null;
let current = null; // { conversation, partnerName, mine, theirs, timedOut, timer }

function connection() {
  rt ??= tabConnection({ path: "/ws/" });
  return rt;
}

function blurred(soft) {
  return Boolean(soft) && !soft.timedOut && !(soft.mine && soft.theirs);
}

function render({ focusCall = false } = {}) {
  const soft = current;
  const blur = blurred(soft);
  root.dataset.softStart = blur ? "blurred" : "clear";
  if (!els.panel) return;
  const wasShown = !els.panel.hidden;
  els.panel.hidden = !blur;
  if (!blur) {
    els.status.textContent = "";
    // The Reveal button vanished under the keyboard: keep the person in the call.
    if (wasShown && focusCall && els.panel.contains(document.activeElement)) byId("call-title")?.focus({ preventScroll: true });
    return;
  }
  const name = soft.partnerName;
  els.intro.textContent = `You'll see ${name} clearly once you both press Reveal, or in ${soft.seconds} seconds. You can hear each other now.`;
  els.button.hidden = soft.mine;
  const theirWords = soft.theirs ? `${name} revealed` : `Waiting for ${name} to reveal`;
  els.status.textContent = soft.mine ? `You revealed · ${theirWords}` : theirWords;
}

/** A call started: blur the partner's video if the server said this is a soft start. */
export function softStartBegin(msg, { partnerName }) {
  softStartEnd();
  const seconds = Number.isInteger(msg.reveal_after_seconds) ? msg.reveal_after_seconds : 0;
  if (msg.soft_start !== true || seconds <= 0) {
    render();
    return;
  }
  const soft = {
    conversation: msg.conversation,
    partnerName: partnerName || "your partner",
    seconds,
    mine: false,
    theirs: false,
    timedOut: false,
    timer: null,
  };
  soft.timer = window.setTimeout(() => {
    soft.timedOut = true;
    if (current === soft) render({ focusCall: true });
  }, seconds * 1000);
  current = soft;
  render();
}

/** The call ended: nothing is blurred any more. */
export function softStartEnd() {
  if (current) window.clearTimeout(current.timer);
  current = null;
  render();
}

function reveal() {
  const soft = current;
  if (!blurred(soft) || soft.mine) return;
  if (!connection().send({ type: "reveal", conversation: soft.conversation })) return;
  soft.mine = true;
  render({ focusCall: true });
  // The button is gone: the status line says where things stand, so keep focus near it.
  if (!els.panel.hidden) {
    els.status.setAttribute("tabindex", "-1");
    els.status.focus({ preventScroll: true });
  }
}

connection().on("call.revealed", (msg) => {
  const soft = current;
  if (!soft || msg.conversation !== soft.conversation) return;
  soft.theirs = true;
  render({ focusCall: true });
});

els.button?.addEventListener("click", reveal);
render();
