// The talk balance meter: how much each person spoke, and, after the call, a
// kind word when it was lopsided. Each page counts only its own person's
// speaking seconds, from their own microphone track (an AnalyserNode's level
// over a threshold, held a moment longer so the gaps between words count),
// and sends the count every 2 s (talk.time); the partner's page sends theirs.
// call.js calls balanceStart when a call starts and balanceEnd when it ends.
import { tabConnection } from "./realtime.js";

const TICK_MS = 100;
const SEND_EVERY_MS = 2_000;
// RMS level of a speaking voice on a typical microphone is well above this;
// room noise and a muted track are below it.
const SPEAKING_LEVEL = 0.015;
// Speech has short pauses between words: a voice heard this recently still counts.
const HANGOVER_MS = 300;
// A tick that comes late (a tab in the background is throttled) counts at most this long.
const MAX_TICK_MS = 1_000;
// Below this many seconds of talk in all, a split says nothing.
const MIN_TOTAL_SECONDS = 5;
const LOPSIDED_PERCENT = 65;
const STORAGE_KEY = "chatspheres.talkBalance";

const byId = (id) => document.getElementById(id);
const els = {
  panel: byId("talk-balance"),
  meter: byId("talk-balance-meter"),
  words: byId("talk-balance-words"),
  mine: byId("talk-balance-mine"),
  toggle: byId("talk-balance-toggle"),
  after: byId("balance-after"),
  afterSplit: byId("balance-after-split"),
  afterComment: byId("balance-after-comment"),
};

// For tests and the benchmark: the counts, how many ticks took how long, and
// the last TICKS_KEPT ticks' times (a ring: tick n is at n % TICKS_KEPT).
const TICKS_KEPT = 1024;
const exposed = { mine: 0, partner: 0, ticks: 0, tickMs: 0, tickMaxMs: 0, recent: new Float32Array(TICKS_KEPT) };
window.chatspheresBalance = exposed;

let rt = null;
let current = null; // { conversation, partnerName, audioTrack, mine, partner, ... }
let audioContext = null;

function connection() {
  rt ??= tabConnection({ path: "/ws/" });
  return rt;
}

function hiddenByChoice() {
  try {
    return window.localStorage.getItem(STORAGE_KEY) === "hidden";
  } catch {
    return false;
  }
}

function rememberHidden(hidden) {
  try {
    if (hidden) window.localStorage.setItem(STORAGE_KEY, "hidden");
    else window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Private mode: the choice holds for this page only.
  }
}

/** Your share in whole percent, or null while too little was said to tell. */
function mySharePercent(mine, partner) {
  const total = mine + partner;
  if (total <= 0) return null;
  return Math.round((100 * mine) / total);
}

function splitWords(mine, partner, partnerName) {
  const share = mySharePercent(mine, partner);
  if (share === null) return "Nobody has spoken yet";
  return `You ${share}% · ${partnerName} ${100 - share}%`;
}

function render() {
  if (!els.panel) return;
  const hidden = hiddenByChoice();
  els.toggle.textContent = hidden ? "Show talk balance" : "Hide talk balance";
  els.toggle.setAttribute("aria-expanded", String(!hidden));
  els.meter.hidden = hidden;
  if (!current) return;
  const words = splitWords(current.mine, current.partner, current.partnerName);
  const share = mySharePercent(current.mine, current.partner);
  if (els.words.textContent !== words) els.words.textContent = words;
  els.meter.setAttribute("aria-valuenow", String(share ?? 50));
  els.meter.setAttribute("aria-valuetext", words);
  els.mine.style.inlineSize = `${share ?? 50}%`;
  els.meter.dataset.empty = String(share === null);
}

// ---------------------------------------------------------------- listening

function analyserFor(track) {
  try {
    audioContext ??= new AudioContext();
    if (audioContext.state === "suspended") audioContext.resume().catch(() => {});
    const source = audioContext.createMediaStreamSource(new MediaStream([track]));
    const analyser = audioContext.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    return { track, source, analyser, samples: new Float32Array(analyser.fftSize) };
  } catch (error) {
    console.warn("balance: cannot listen to the microphone", error);
    return null;
  }
}

function stopListening(call) {
  if (call.listening) {
    call.listening.source.disconnect();
    call.listening = null;
  }
}

function level(listening) {
  listening.analyser.getFloatTimeDomainData(listening.samples);
  let sum = 0;
  for (const sample of listening.samples) sum += sample * sample;
  return Math.sqrt(sum / listening.samples.length);
}

function tick(call, { send = true } = {}) {
  const started = performance.now();
  // The microphone may have been switched (or muted: a disabled track is silence).
  const track = call.audioTrack();
  if ((track?.id ?? null) !== (call.listening?.track.id ?? null)) {
    stopListening(call);
    if (track) call.listening = analyserFor(track);
  }
  const now = started;
  const elapsed = Math.min(now - call.lastTick, MAX_TICK_MS);
  call.lastTick = now;
  if (call.listening && call.listening.track.enabled && level(call.listening) > SPEAKING_LEVEL) {
    call.lastVoice = now;
  }
  if (now - call.lastVoice <= HANGOVER_MS) call.mine += elapsed / 1000;
  if (send && now - call.lastSent >= SEND_EVERY_MS) sendCount(call, now);
  exposed.mine = call.mine;
  const took = performance.now() - started;
  exposed.recent[exposed.ticks % TICKS_KEPT] = took;
  exposed.ticks += 1;
  exposed.tickMs += took;
  if (took > exposed.tickMaxMs) exposed.tickMaxMs = took;
}

function sendCount(call, now) {
  call.lastSent = now;
  const seconds = Math.round(call.mine * 10) / 10;
  connection().send({ type: "talk.time", conversation: call.conversation, seconds });
  render();
}

// ---------------------------------------------------------------- the call's hooks

/** A call started: listen to this person's own microphone and show the meter. */
export function balanceStart({ conversation, partnerName, audioTrack }) {
  balanceStop();
  clearAfter();
  const now = performance.now();
  current = {
    conversation,
    partnerName: partnerName || "Your partner",
    audioTrack,
    mine: 0,
    partner: 0,
    listening: null,
    lastTick: now,
    lastVoice: -Infinity,
    lastSent: now,
    timer: null,
  };
  Object.assign(exposed, { mine: 0, partner: 0 });
  const call = current;
  call.timer = window.setInterval(() => tick(call), TICK_MS);
  if (els.panel) els.panel.hidden = false;
  render();
}

/** Stop listening (the call is over, or another starts). */
function balanceStop() {
  if (!current) return;
  window.clearInterval(current.timer);
  stopListening(current);
  current = null;
  if (els.panel) els.panel.hidden = true;
}

/** The call ended: say how the talk was shared on the "How was it?" screen. */
export function balanceEnd() {
  const call = current;
  if (!call) return;
  // The last moments count on this screen (the call is over: nothing more is sent).
  tick(call, { send: false });
  balanceStop();
  showAfter(call);
}

function clearAfter() {
  if (!els.after) return;
  els.after.hidden = true;
  els.afterSplit.textContent = "";
  els.afterComment.textContent = "";
}

function showAfter(call) {
  if (!els.after) return;
  const share = mySharePercent(call.mine, call.partner);
  if (share === null || call.mine + call.partner < MIN_TOTAL_SECONDS) {
    clearAfter();
    return;
  }
  const name = call.partnerName;
  els.afterSplit.textContent = `Talk balance: you spoke ${share}% of the time, ${name} ${100 - share}%.`;
  let comment = "";
  if (share > LOPSIDED_PERCENT) comment = "You did most of the talking — next time, try asking a follow-up question.";
  else if (share < 100 - LOPSIDED_PERCENT)
    comment = `${name} did most of the talking — you listened well. Next time, try sharing a story of your own.`;
  els.afterComment.textContent = comment;
  els.afterComment.hidden = !comment;
  els.after.hidden = false;
}

// ---------------------------------------------------------------- wiring

connection().on("talk.time", (msg) => {
  const call = current;
  if (!call || msg.conversation !== call.conversation) return;
  const seconds = Number(msg.seconds);
  if (!Number.isFinite(seconds) || seconds < 0) return;
  call.partner = seconds;
  exposed.partner = seconds;
  render();
});

els.toggle?.addEventListener("click", () => {
  rememberHidden(!hiddenByChoice());
  render();
});

// A page that could not start its audio yet (no gesture): the next press will.
document.addEventListener(
  "pointerdown",
  () => {
    if (audioContext?.state === "suspended") audioContext.resume().catch(() => {});
  },
  { capture: true },
);

render();
