// The call page: preview → waiting → call → ended, all in one page.
// Protocol: docs/protocol.md. WebRTC negotiation: the "perfect negotiation"
// pattern, with the server telling each side whether it is polite.
import { tabConnection } from "./realtime.js";
import { showRecap, startReflection } from "./reflection.js";
import { balanceEnd, balanceStart } from "./balance.js";
import { softStartBegin, softStartEnd } from "./softstart.js";
import { promptsCallEnded, promptsCallStarted } from "./prompts.js";
import { safetyPerson } from "./safety.js";
import { keepIceFresh, peerConnectionFor } from "./ice.js";

const config = JSON.parse(document.getElementById("call-config").textContent);
const sphereId = Number(config.sphere);

const NO_MEDIA_TIMEOUT_MS = 30_000;
// ICE that stays "disconnected" this long (or "failed" at once) is restarted
// by the side that makes the offers, once per such stretch, a few times at most.
const ICE_TROUBLE_MS = 5_000;
const MAX_ICE_RESTARTS = 4;
// Waiting again after "unavailable" answered Join call: a bounded few tries.
const JOIN_RETRY_DELAYS_MS = [2_000, 4_000, 8_000, 8_000];
// If the server does not confirm a Next / End call, leave the call anyway.
const END_FALLBACK_MS = 5_000;
const CHAT_MAX = 1000;
const STORAGE_KEYS = { video: "chatspheres.camera", audio: "chatspheres.microphone" };
// "Keep me in the queue": after a partner moves on, look for the next person at once.
const KEEP_QUEUED_KEY = "chatspheres.keepQueued";
// The side panel is a drawer (opened with "Chat") while this query holds; see call.css.
const DRAWER_LAYOUT = window.matchMedia("(max-width: 59.99rem)");

const byId = (id) => document.getElementById(id);
const root = byId("call");
const els = {
  status: byId("call-status"),
  announce: byId("call-announce"),
  alert: byId("call-alert"),
  phases: {
    preview: byId("phase-preview"),
    waiting: byId("phase-waiting"),
    call: byId("phase-call"),
    ended: byId("phase-ended"),
    // Only on a direct call's page ("Call now", or answering one).
    ...(byId("phase-direct") ? { direct: byId("phase-direct") } : {}),
  },
  headings: {
    preview: byId("preview-title"),
    waiting: byId("waiting-title"),
    call: byId("call-title"),
    ended: byId("ended-title"),
    direct: byId("direct-title"),
  },
  directDetail: byId("direct-detail"),
  directCancel: byId("direct-cancel"),
  directAgain: byId("direct-again"),
  directVideo: byId("direct-video"),
  lobby: byId("call-lobby"),
  previewVideo: byId("preview-video"),
  waitingVideo: byId("waiting-video"),
  selfVideo: byId("self-video"),
  remoteVideo: byId("remote-video"),
  mediaProblem: byId("media-problem"),
  retryMedia: byId("retry-media"),
  cameraSelect: byId("camera-select"),
  micSelect: byId("mic-select"),
  joinButton: byId("join-button"),
  cancelButton: byId("cancel-button"),
  waitTime: byId("wait-time"),
  presence: document.querySelectorAll("[data-presence]"),
  waitingHint: byId("waiting-hint"),
  callNowList: byId("call-now-list"),
  audioButtons: document.querySelectorAll("[data-toggle='audio']"),
  videoButtons: document.querySelectorAll("[data-toggle='video']"),
  nextButton: byId("next-button"),
  endButton: byId("end-button"),
  partnerName: byId("partner-name"),
  remoteInitial: byId("remote-initial"),
  partnerBio: byId("partner-bio"),
  talkedBefore: byId("talked-before"),
  interestsTitle: byId("interests-title"),
  interests: byId("partner-interests"),
  partnerMuted: byId("partner-muted"),
  partnerCameraOff: byId("partner-camera-off"),
  chatLog: byId("chat-log"),
  chatToggle: byId("chat-toggle"),
  chatUnread: byId("chat-unread"),
  chatUnreadWords: byId("chat-unread-words"),
  waitingAfter: byId("waiting-after"),
  keepQueued: document.querySelectorAll("[data-keep-queued]"),
  chatEmpty: byId("chat-empty"),
  chatForm: byId("chat-form"),
  chatInput: byId("chat-input"),
  trouble: byId("call-trouble"),
  againButton: byId("again-button"),
  reflection: byId("reflection"),
  reflectionPartner: byId("reflection-partner"),
  ratingGroup: byId("rating-group"),
  ratingButtons: document.querySelectorAll("[data-rating]"),
  reflectionThanks: byId("reflection-thanks"),
};

// A peer connection made while the person waits, so that once matched only
// the offer and the answer are left to do (declared before any code that runs
// at load time can reach it: a direct call's page prepares it at once).
let preparedPc = null;

const state = {
  // A direct call's page starts ringing (or answering) rather than in the preview.
  phase: config.direct ? "direct" : "preview",
  socket: "connecting", // realtime.js's state: connecting | open | reconnecting | closed
  socketAttempt: 0,
  stream: null, // the local camera/mic stream, kept across calls
  audioOn: true,
  videoOn: true,
  queued: false, // this tab asked to wait for a partner
  cancelPending: false, // Cancel sent, queue.left not yet received
  waitStartedAt: 0,
  waitTimer: null,
  presence: null,
  // The server counts this tab among those waiting (queue.waiting came).
  inQueue: false,
  // { waiting, recent, callNow }: how many of the others waiting this member
  // just talked with, true while the sphere's waiting count is `waiting`.
  hint: null,
  call: null,
  endedText: "",
  joinPending: false, // queue.join sent, not answered yet
  joinRetries: 0,
  joinRetryTimer: null,
  // An End call / Next that could not be sent while the socket was down.
  unsentEnd: null,
  // already_in_call errors to expect: answers to a queue.join that crossed
  // a call the server had already put this tab in.
  staleJoins: 0,
  reflection: null, // { conversation, partnerName, done, sending }
  // The first camera and microphone request (settles either way), and whether it has.
  mediaReady: Promise.resolve(),
  mediaSettled: false,
  // The phone layout's chat drawer, and the partner's messages it has not shown yet.
  drawerOpen: false,
  unread: 0,
  // How the last call ended, for the ended screen: { words, partnerMovedOn }.
  ending: null,
};

// For tests and debugging: the current peer connection (or null), the
// conversation's id, this side's role, and how many ICE restarts it made.
window.chatspheres = { pc: null, conversation: null, polite: null, iceRestarts: 0 };

// ---------------------------------------------------------------- direct calls
// A "Call now" page rings a connection from this tab (config.direct.mode
// "call"); an answering page accepts their ring here ("answer"). Either way,
// once the server says match.found it is the same call as a matched one.
// step: idle (not sent yet) → sent (ring.start / ring.accept on its way) →
// ringing (the callee's tabs ring) → talking; or over, with words saying why.
const direct = config.direct
  ? { ...config.direct, ring: config.direct.ring || null, step: "idle", outcome: "", cancelWanted: false }
  : null;

function directStart() {
  if (!direct) return;
  clearAlert();
  preparePeerConnection();
  direct.outcome = "";
  direct.cancelWanted = false;
  if (direct.mode === "call") direct.ring = null;
  const frame =
    direct.mode === "call" ? { type: "ring.start", callee: direct.handle } : { type: "ring.accept", ring: direct.ring };
  // Not sent while the socket is down: socketOpened() starts again.
  direct.step = rt.send(frame) ? "sent" : "idle";
  renderDirect();
}

function directOver(words) {
  if (!direct) return;
  direct.step = "over";
  direct.outcome = words;
  renderDirect({ focus: true });
}

function directCancel() {
  if (!direct || !["sent", "ringing"].includes(direct.step)) return;
  if (direct.ring) rt.send({ type: "ring.cancel", ring: direct.ring });
  else direct.cancelWanted = true; // cancelled as soon as the server names the ring
  directOver("Call cancelled.");
}

function directStatusText() {
  if (!direct) return "";
  if (direct.step === "over") return direct.outcome;
  if (direct.step === "ringing") return "Ringing…";
  return "Connecting…";
}

function renderDirect({ focus = false } = {}) {
  if (!direct || !els.headings.direct) return;
  const name = direct.name || "them";
  let title = direct.mode === "call" ? `Calling ${name}…` : `Connecting you with ${name}…`;
  let detail = direct.mode === "call" ? "Starting the call…" : "Your camera starts, then the call.";
  if (direct.step === "ringing") {
    detail = `${name}'s open tabs are ringing now. If ${name} doesn't answer within 30 seconds, we'll say so here.`;
  } else if (direct.step === "over") {
    title = direct.outcome;
    detail = direct.mode === "call" ? `You can call ${name} again, or come back later.` : "";
  }
  setText(els.headings.direct, title);
  setText(els.directDetail, detail);
  els.directDetail.hidden = !detail;
  if (els.directCancel) els.directCancel.hidden = direct.mode !== "call" || !["sent", "ringing"].includes(direct.step);
  if (els.directAgain) els.directAgain.hidden = direct.mode !== "call" || direct.step !== "over";
  renderStatus();
  if (focus && state.phase === "direct") els.headings.direct.focus({ preventScroll: true });
}

// ---------------------------------------------------------------- helpers

function formatWait(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function showAlert(text) {
  els.alert.textContent = text;
}

function clearAlert() {
  els.alert.textContent = "";
}

function showAlertWithLink(text, linkText, href) {
  const link = document.createElement("a");
  link.href = href;
  link.textContent = linkText;
  els.alert.replaceChildren(`${text} `, link);
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function liveTrack(kind) {
  if (!state.stream) return null;
  return state.stream.getTracks().find((t) => t.kind === kind && t.readyState === "live") ?? null;
}

// ---------------------------------------------------------------- status

const CALL_STATUS = {
  connecting: "Connecting…",
  connected: "Connected",  // "Connected with Ana" once the partner has a name
  reconnecting: "Reconnecting…",
  failed: "Connection failed",
  "no-media": "Couldn't connect",
};

function statusText() {
  // This page's own connection comes first: nothing else is current while it is down.
  if (state.socket === "reconnecting") return "Reconnecting…";
  if (state.socket === "closed" && state.phase !== "ended") return "Disconnected";
  switch (state.phase) {
    case "preview":
      return state.socket === "connecting" && state.socketAttempt > 0 ? "Connecting…" : "";
    case "waiting":
      return state.socket === "connecting" ? "Connecting…" : "Waiting for someone…";
    case "call":
      if (state.call?.partnerAway) return `${partnerName(state.call)}'s connection dropped, waiting for them…`;
      if (state.call?.connState === "connected" && state.call.partner.name) return `Connected with ${state.call.partner.name}`;
      return CALL_STATUS[state.call?.connState ?? "connecting"];
    case "ended":
      return state.endedText;
    case "direct":
      return directStatusText();
    default:
      return "";
  }
}

function partnerName(call) {
  return call.partner.name || "Your partner";
}

const STATUS_TONE = {
  Connected: "good",
  "Connection failed": "bad",
  "Couldn't connect": "bad",
  "Call ended": "neutral",
  Disconnected: "bad",
};

function renderStatus() {
  const text = statusText();
  setText(els.status, text);
  const connected = state.phase === "call" && state.call?.connState === "connected" && !state.call.partnerAway;
  els.status.dataset.tone = connected ? "good" : STATUS_TONE[text] ?? (state.phase === "ended" ? "neutral" : "busy");
  const trouble = state.phase === "call" && ["failed", "no-media"].includes(state.call?.connState);
  els.trouble.hidden = !trouble;
}

// ---------------------------------------------------------------- phases

function setPhase(phase, { focus = true } = {}) {
  const changed = state.phase !== phase;
  state.phase = phase;
  root.dataset.phase = phase;
  for (const [name, section] of Object.entries(els.phases)) section.hidden = name !== phase;
  els.lobby.hidden = phase !== "waiting" && phase !== "ended";
  if (phase === "waiting") startWaitTimer();
  else stopWaitTimer();
  if (phase !== "waiting") {
    state.inQueue = false;
    state.hint = null;
  }
  if (phase !== "call") {
    state.unread = 0;
    setDrawer(false);
  }
  // Mid-call, leaving the page asks first; at any other time it just goes.
  if (phase === "call") window.addEventListener("beforeunload", askBeforeLeaving);
  else window.removeEventListener("beforeunload", askBeforeLeaving);
  els.waitingAfter.hidden = phase !== "waiting" || !els.waitingAfter.textContent;
  renderReflection();
  renderPresence();
  renderStatus();
  if (changed && focus) {
    // Keep keyboard and screen-reader users oriented: the control they used
    // has just disappeared with the previous phase. Left behind by a partner
    // who moved on, the next step is the button that finds someone new.
    const target = phase === "ended" && state.ending?.partnerMovedOn ? els.againButton : els.headings[phase];
    target?.focus({ preventScroll: true });
  }
}

function askBeforeLeaving(event) {
  if (state.phase !== "call" || !state.call || state.call.ending) return;
  event.preventDefault();
  event.returnValue = ""; // older browsers ask only when this is set
}

// ---------------------------------------------------------------- the phone layout

/** Open or close the chat drawer (phones); opening it counts its messages as read. */
function setDrawer(open) {
  state.drawerOpen = open;
  root.dataset.drawer = open ? "open" : "closed";
  els.chatToggle.setAttribute("aria-expanded", String(open));
  if (open) state.unread = 0;
  renderUnread();
}

function renderUnread() {
  const n = state.unread;
  els.chatUnread.hidden = n === 0;
  setText(els.chatUnread, n > 9 ? "9+" : String(n));
  setText(els.chatUnreadWords, n === 0 ? "" : n === 1 ? "1 unread message" : `${n} unread messages`);
}

/** Say something to screen readers through the polite region (the same words twice are still said). */
function announce(text) {
  els.announce.textContent = "";
  window.setTimeout(() => {
    els.announce.textContent = text;
  }, 50);
}

/**
 * The call fills what is visible of the window: with the on-screen keyboard
 * open that is the visual viewport, which may also be scrolled down.
 */
function followVisualViewport() {
  const vv = window.visualViewport;
  if (!vv) return;
  root.style.setProperty("--call-viewport-height", `${Math.round(vv.height)}px`);
  root.style.setProperty("--call-viewport-top", `${Math.round(vv.offsetTop)}px`);
}

function keepQueued() {
  try {
    return window.localStorage.getItem(KEEP_QUEUED_KEY) === "yes";
  } catch {
    return false;
  }
}

function setKeepQueued(on) {
  try {
    if (on) window.localStorage.setItem(KEEP_QUEUED_KEY, "yes");
    else window.localStorage.removeItem(KEEP_QUEUED_KEY);
  } catch {
    // Private windows may refuse storage: the choice holds for this page only.
  }
  for (const box of els.keepQueued) box.checked = on;
}

function startWaitTimer() {
  if (state.waitTimer !== null) return;
  state.waitStartedAt = Date.now();
  els.waitTime.textContent = formatWait(0);
  state.waitTimer = window.setInterval(() => {
    els.waitTime.textContent = formatWait(Date.now() - state.waitStartedAt);
  }, 1000);
}

function stopWaitTimer() {
  if (state.waitTimer === null) return;
  window.clearInterval(state.waitTimer);
  state.waitTimer = null;
}

/** Those waiting in the sphere but this tab, which counts itself once the server says it waits. */
function othersWaiting() {
  const selfCounted = state.inQueue && state.queued && state.phase === "waiting";
  return Math.max(0, state.presence.waiting - (selfCounted ? 1 : 0));
}

function waitingWords(others) {
  if (others === 0) return "No one else is waiting yet";
  return others === 1 ? "1 other person waiting" : `${others} other people waiting`;
}

function renderPresence() {
  const p = state.presence;
  let text = "";
  if (p) text = `${plural(p.online, "person", "people")} online in this sphere · ${waitingWords(othersWaiting())}`;
  for (const el of els.presence) setText(el, text);
  renderHint();
}

function updatePresence(msg) {
  if (msg.sphere !== sphereId) return;
  if (!Number.isInteger(msg.online) || !Number.isInteger(msg.waiting)) return;
  state.presence = { online: msg.online, waiting: msg.waiting };
  // A hint holds for the count it came with; once the count moves on, only a
  // new hint can say who the others are.
  if (state.hint && state.hint.waiting !== msg.waiting) state.hint = null;
  renderPresence();
}

function hintFrom(msg) {
  if (!Number.isInteger(msg.waiting)) return null;
  const offers = Array.isArray(msg.call_now) ? msg.call_now : [];
  return {
    waiting: msg.waiting,
    recent: Number.isInteger(msg.recent_partners) ? msg.recent_partners : 0,
    callNow: offers.filter(
      (offer) => typeof offer?.name === "string" && typeof offer?.url === "string" && offer.url.startsWith("/call/"),
    ),
  };
}

/** "Only people you've talked with…": every other person waiting is someone this member just talked with. */
function renderHint() {
  const hint = state.hint;
  const others = state.presence ? othersWaiting() : 0;
  const show =
    Boolean(hint) && state.inQueue && state.phase === "waiting" && state.presence?.waiting === hint.waiting &&
    others > 0 && hint.recent >= others;
  els.waitingHint.hidden = !show;
  const offers = show ? hint.callNow : [];
  const key = JSON.stringify(offers);
  if (els.callNowList.dataset.offers === key) return;
  els.callNowList.dataset.offers = key;
  els.callNowList.replaceChildren(
    ...offers.map((offer, index) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.id = `call-now-name-${index}`;
      name.textContent = `${offer.name} is here.`;
      const link = document.createElement("a");
      link.className = "button primary";
      link.href = offer.url;
      link.textContent = "Call now";
      link.setAttribute("aria-describedby", name.id);
      item.append(name, link);
      return item;
    }),
  );
  els.callNowList.hidden = offers.length === 0;
}

// ---------------------------------------------------------------- local media

function attachLocal() {
  for (const video of [els.previewVideo, els.waitingVideo, els.selfVideo, els.directVideo]) {
    if (!video) continue;
    if (video.srcObject !== state.stream) video.srcObject = state.stream;
    if (state.stream) video.play().catch(() => {});
  }
  renderMediaControls();
}

function describeMediaError(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "refused";
    case "NotFoundError":
    case "OverconstrainedError":
      return "missing";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    default:
      return "unavailable";
  }
}

function mediaProblemText(got, error) {
  const why = describeMediaError(error);
  if (got === "audio") {
    return {
      refused: "Camera access was refused, so you'll join with audio only.",
      missing: "No camera was found, so you'll join with audio only.",
      busy: "Your camera is being used by another app, so you'll join with audio only.",
      unavailable: "Your camera couldn't be started, so you'll join with audio only.",
    }[why];
  }
  if (got === "video") {
    return {
      refused: "Microphone access was refused, so your partner won't hear you. You can still use the chat.",
      missing: "No microphone was found, so your partner won't hear you. You can still use the chat.",
      busy: "Your microphone is being used by another app, so your partner won't hear you.",
      unavailable: "Your microphone couldn't be started, so your partner won't hear you.",
    }[why];
  }
  return {
    refused:
      "Camera and microphone access was refused. You can still join and use the chat, but your partner won't see or hear you. To change this, allow access in your browser's site settings, then press “Try again”.",
    missing: "No camera or microphone was found. You can still join and use the chat.",
    busy: "Your camera and microphone are being used by another app. Close it and press “Try again”, or join and use the chat.",
    unavailable: "Your camera and microphone couldn't be started. You can still join and use the chat.",
  }[why];
}

function constraintFor(kind) {
  const saved = window.localStorage.getItem(STORAGE_KEYS[kind]);
  const base = kind === "video" ? { width: { ideal: 1280 }, height: { ideal: 720 } } : {};
  return saved ? { ...base, deviceId: { ideal: saved } } : kind === "video" ? base : true;
}

async function startMedia() {
  els.retryMedia.hidden = true;
  if (!navigator.mediaDevices?.getUserMedia) {
    els.mediaProblem.textContent =
      "This browser can't use a camera or microphone on this page. You can still join and use the chat.";
    els.mediaProblem.hidden = false;
    renderMediaControls();
    return;
  }
  const attempts = [
    ["both", { audio: constraintFor("audio"), video: constraintFor("video") }],
    ["audio", { audio: constraintFor("audio") }],
    ["video", { video: constraintFor("video") }],
  ];
  // Camera and microphone; failing that, whichever of the two works.
  let firstError = null;
  let stream = null;
  let got = "none";
  for (const [what, constraints] of attempts) {
    try {
      stream = await navigator.mediaDevices.getUserMedia(constraints);
      got = what;
      break;
    } catch (error) {
      firstError ??= error;
    }
  }
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  state.stream = stream;
  if (got === "both") {
    els.mediaProblem.hidden = true;
    els.mediaProblem.textContent = "";
  } else {
    els.mediaProblem.textContent = mediaProblemText(got, firstError);
    els.mediaProblem.hidden = false;
    els.retryMedia.hidden = got === "audio" && describeMediaError(firstError) === "missing";
  }
  applyTrackStates();
  attachLocal();
  await refreshDevices();
}

function applyTrackStates() {
  if (!state.stream) return;
  for (const t of state.stream.getAudioTracks()) t.enabled = state.audioOn;
  for (const t of state.stream.getVideoTracks()) t.enabled = state.videoOn;
}

function renderMediaControls() {
  const hasAudio = liveTrack("audio") !== null;
  const hasVideo = liveTrack("video") !== null;
  const audioOn = hasAudio && state.audioOn;
  const videoOn = hasVideo && state.videoOn;
  // The label says what pressing does ("Mute" / "Unmute"); no aria-pressed as
  // well, or a screen reader says "Unmute, toggle button, pressed".
  for (const button of els.audioButtons) {
    button.querySelector(".label").textContent = audioOn || !hasAudio ? "Mute" : "Unmute";
    button.dataset.off = String(hasAudio && !state.audioOn);
    button.disabled = !hasAudio;
    button.dataset.on = String(audioOn);
  }
  for (const button of els.videoButtons) {
    button.querySelector(".label").textContent = videoOn || !hasVideo ? "Turn camera off" : "Turn camera on";
    button.dataset.off = String(hasVideo && !state.videoOn);
    button.disabled = !hasVideo;
    button.dataset.on = String(videoOn);
  }
  root.dataset.selfVideo = videoOn ? "on" : "off";
}

function setAudio(on) {
  if (!liveTrack("audio")) return;
  state.audioOn = on;
  applyTrackStates();
  renderMediaControls();
  sendMediaState();
}

function setVideo(on) {
  if (!liveTrack("video")) return;
  state.videoOn = on;
  applyTrackStates();
  renderMediaControls();
  sendMediaState();
}

async function refreshDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  let devices = [];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return;
  }
  fillDeviceSelect(els.cameraSelect, devices, "videoinput", "video", "Camera", "No camera available");
  fillDeviceSelect(els.micSelect, devices, "audioinput", "audio", "Microphone", "No microphone available");
}

function fillDeviceSelect(select, devices, deviceKind, trackKind, fallback, noneText) {
  // Before permission is granted, devices have no id or label: list nothing.
  const list = devices.filter((d) => d.kind === deviceKind && d.deviceId);
  const current = liveTrack(trackKind)?.getSettings().deviceId ?? "";
  const options = list.map((d, i) => new Option(d.label || `${fallback} ${i + 1}`, d.deviceId));
  if (options.length === 0) options.push(new Option(noneText, ""));
  select.replaceChildren(...options);
  select.disabled = list.length === 0;
  if (current && list.some((d) => d.deviceId === current)) select.value = current;
}

async function switchDevice(kind, deviceId) {
  if (!deviceId) return;
  let fresh;
  try {
    fresh = await navigator.mediaDevices.getUserMedia({
      [kind]: kind === "video"
        ? { deviceId: { exact: deviceId }, width: { ideal: 1280 }, height: { ideal: 720 } }
        : { deviceId: { exact: deviceId } },
    });
  } catch (error) {
    const what = kind === "video" ? "camera" : "microphone";
    showAlert(`Couldn't switch to that ${what} (${describeMediaError(error) === "busy" ? "it is in use by another app" : "it isn't available"}).`);
    await refreshDevices();
    return;
  }
  const track = fresh.getTracks()[0];
  window.localStorage.setItem(STORAGE_KEYS[kind], deviceId);
  if (!state.stream) state.stream = new MediaStream();
  const old = liveTrack(kind);
  if (old) {
    state.stream.removeTrack(old);
    old.stop();
  }
  state.stream.addTrack(track);
  applyTrackStates();
  // Re-attach: some browsers don't pick up a track added to a playing stream.
  for (const video of [els.previewVideo, els.waitingVideo, els.selfVideo, els.directVideo]) {
    if (video) video.srcObject = null;
  }
  attachLocal();
  const call = state.call;
  if (call) {
    const sender = call.pc.getSenders().find((s) => s.track?.kind === kind);
    if (sender) await sender.replaceTrack(track).catch(() => {});
  }
  sendMediaState();
  els.mediaProblem.hidden = true;
}

// ---------------------------------------------------------------- socket

// The page's one connection (site.js opened it; it closes cleanly with the page).
const rt = tabConnection({ path: config.wsPath || "/ws/" });

rt.onState((socketState, detail = {}) => {
  state.socket = socketState;
  state.socketAttempt = detail.attempt ?? 0;
  if (socketState === "open") socketOpened(detail);
  else if (socketState === "closed") socketClosed(detail);
  else if (detail.code === 4029) {
    showAlert(detail.closeReason || "Too many connection attempts from your network. Trying again in a minute…");
  }
  renderStatus();
});

function socketOpened({ reconnected = false, resumed = false }) {
  if (!reconnected) return firstOpen();
  // Say what could not be said while the socket was down: an End call or Next first.
  if (state.unsentEnd) {
    rt.send({ type: "call.end", ...state.unsentEnd });
    state.unsentEnd = null;
  }
  const call = state.call;
  if (call && !resumed) {
    // The server no longer knows this tab (it restarted, or we were away
    // too long): the call is gone. End it on the server too, in case it
    // still holds it open, so the partner is not left waiting.
    rt.send({ type: "call.end", conversation: call.id, reason: "ended" });
    finishCall("lost", false);
  }
  rt.send({ type: "sphere.enter", sphere: sphereId });
  // A dropped socket took this tab out of the queue: wait again.
  if (state.phase === "waiting" && state.queued) sendJoin();
  // A ring started from (or answered in) a tab the server no longer knows: again.
  if (!resumed && direct && state.phase === "direct" && ["idle", "sent", "ringing"].includes(direct.step)) {
    directStart();
  }
  if (state.call) {
    // Resumed: carry on. What the partner sent while we were away is
    // replayed right after `ready` (chat, call.ended); signaling is not, so
    // finish any negotiation that was cut short.
    resumeSignaling(state.call);
    sendMediaState();
  }
}

function firstOpen() {
  // A ring first: the server handles a tab's frames in order, and the callee is waiting.
  if (direct && state.phase === "direct" && direct.step === "idle") directStart();
  rt.send({ type: "sphere.enter", sphere: sphereId });
  if (state.phase === "waiting" && state.queued) sendJoin();
}

function socketClosed(detail) {
  if (detail.reason === "client") return; // this page is going away
  // No more tries: whatever the page is part of ends with the socket.
  if (state.call) finishCall(detail.reason === "signed-out" ? "signed-out" : "lost", false);
  if (state.phase === "waiting") {
    state.queued = false;
    setPhase("preview");
  }
  stopJoinRetry();
  els.joinButton.disabled = true;
  els.againButton.disabled = true;
  const reloadText = "Reload the page to continue.";
  switch (detail.reason) {
    case "signed-out":
      // The answer to "How was it?" could not be saved any more.
      state.reflection = null;
      renderReflection();
      showAlertWithLink(
        detail.closeReason || "Your session ended. Sign in again to continue.",
        "Sign in",
        root.dataset.loginUrl || "/accounts/login/",
      );
      break;
    case "too-many-tabs":
      showAlert(detail.closeReason || `ChatSpheres is open in too many tabs. Close one, then reload this one.`);
      break;
    default:
      showAlert(
        detail.closeReason
          ? `The connection to ChatSpheres was closed: ${detail.closeReason} ${reloadText}`
          : `The connection to ChatSpheres was closed. ${reloadText}`,
      );
  }
}

rt.on("sphere.presence", updatePresence);

rt.on("queue.waiting", (msg) => {
  state.joinPending = false;
  if (state.joinRetries > 0) {
    state.joinRetries = 0;
    clearAlert();
  }
  if (msg.sphere === sphereId && state.phase === "waiting" && state.queued) {
    state.inQueue = true;
    state.hint = hintFrom(msg);
  }
  updatePresence(msg);
});

rt.on("queue.hint", (msg) => {
  if (msg.sphere !== sphereId || !state.inQueue) return;
  state.hint = hintFrom(msg);
  renderPresence();
});

rt.on("queue.left", (msg) => {
  state.cancelPending = false;
  state.joinPending = false;
  state.inQueue = false;
  state.hint = null;
  if (msg.reason === "elsewhere" && state.phase === "waiting") {
    state.queued = false;
    setPhase("preview");
    showAlert("You started looking for a conversation in another tab, so this tab stopped looking.");
  } else if (msg.reason === "refused") {
    // The server could not pair this person now (e.g. in a call in another tab).
    stopJoinRetry();
    if (state.phase === "waiting") {
      state.queued = false;
      setPhase("preview");
    }
    showAlert(typeof msg.message === "string" && msg.message ? msg.message : "You couldn't be paired with anyone right now.");
  }
});

rt.on("match.found", (msg) => {
  state.joinPending = false;
  if (direct && state.phase === "direct" && !state.call && ["sent", "ringing"].includes(direct.step)) {
    // The ring was answered: the same call as a matched one from here on.
    direct.step = "talking";
    startCall(msg);
    return;
  }
  if (state.phase !== "waiting" || !state.queued || state.call) {
    // We cancelled, but the match was made before the server saw it: let the
    // partner go at once rather than leave them waiting for us.
    if (state.cancelPending && typeof msg.conversation === "string") {
      rt.send({ type: "call.end", conversation: msg.conversation, reason: "ended" });
    }
    return;
  }
  stopJoinRetry();
  startCall(msg);
});

rt.on("ring.ringing", (msg) => {
  if (!direct || direct.mode !== "call" || state.phase !== "direct" || direct.step !== "sent") return;
  direct.ring = msg.ring;
  if (direct.cancelWanted) {
    rt.send({ type: "ring.cancel", ring: msg.ring });
    return;
  }
  direct.step = "ringing";
  renderDirect();
});

rt.on("ring.stopped", (msg) => {
  if (!direct || msg.ring !== direct.ring || state.phase !== "direct") return;
  if (msg.reason === "accepted" || direct.step === "over") return; // the call follows (match.found)
  const name = direct.name || "They";
  const fallback = {
    missed: `${name} didn't answer.`,
    declined: `${name} can't talk right now.`,
    cancelled: direct.mode === "call" ? "Call cancelled." : `${name} stopped calling.`,
  }[msg.reason];
  directOver(typeof msg.message === "string" && msg.message ? msg.message : fallback || "The call has ended.");
});

rt.on("signal", (msg) => {
  const call = state.call;
  if (!call || msg.conversation !== call.id || !msg.data || typeof msg.data !== "object") return;
  call.signals = call.signals
    .then(() => handleSignal(call, msg.data))
    .catch((error) => console.warn("call: signaling step failed", error));
});

rt.on("media.state", (msg) => {
  const call = state.call;
  if (!call || msg.conversation !== call.id) return;
  const [audioBefore, videoBefore] = [call.partnerAudio, call.partnerVideo];
  call.partnerAudio = msg.audio !== false;
  call.partnerVideo = msg.video !== false;
  renderPartnerMedia(call);
  announcePartnerMedia(call, audioBefore, videoBefore);
  updateConnectionState(call);
});

rt.on("chat.message", (msg) => {
  const call = state.call;
  if (!call || msg.conversation !== call.id || typeof msg.text !== "string") return;
  appendChat(partnerName(call), msg.text, "partner");
});

rt.on("call.partner_away", (msg) => {
  const call = state.call;
  if (!call || msg.conversation !== call.id) return;
  call.partnerAway = true;
  renderStatus();
});

rt.on("call.partner_back", (msg) => {
  const call = state.call;
  if (!call || msg.conversation !== call.id) return;
  call.partnerAway = false;
  renderStatus();
  // Signals sent while they were away were lost: finish any negotiation.
  resumeSignaling(call);
  sendMediaState();
});

rt.on("call.ended", (msg) => {
  const call = state.call;
  if (!call || msg.conversation !== call.id) return;
  finishCall(msg.reason, Boolean(msg.by_me));
});

// Back after too long away to catch up: the server says which call (if any)
// this tab is in now; the page shows exactly that.
rt.on("call.state", (msg) => {
  const conversation = typeof msg.conversation === "string" ? msg.conversation : null;
  const call = state.call;
  if (call && conversation !== call.id) finishCall("lost", false);
  if (conversation !== null && state.call?.id !== conversation) {
    // A call the page never heard of (its match.found fell in the gap): the
    // page cannot show it, so end it rather than leave the partner waiting.
    rt.send({ type: "call.end", conversation, reason: "ended" });
    if (state.phase === "waiting" && state.queued) {
      state.staleJoins += 1;
      sendJoin();
    }
  }
});

rt.on("error", (msg) => {
  const words = typeof msg.message === "string" && msg.message ? msg.message : "Something went wrong.";
  if (direct && state.phase === "direct" && direct.step === "sent") {
    // The ring could not start (not online, in a call…) or be answered: say why.
    directOver(words);
    return;
  }
  const answersJoin = state.joinPending;
  state.joinPending = false;
  switch (msg.code) {
    case "not_in_conversation":
      // Late frames after a call ended are expected; only a call we still
      // think is running needs to be closed.
      if (state.phase === "call" && state.call && !state.call.ending) finishCall("gone", true);
      return;
    case "already_in_call":
      // A queue.join that crossed a call this tab is (or was just) in.
      if (state.phase === "call") return;
      if (state.staleJoins > 0) {
        state.staleJoins -= 1;
        return;
      }
      break;
    case "unavailable":
      // A backing service is down. A Join call keeps waiting and asks again,
      // a few times; anything else just says so.
      if (answersJoin && state.phase === "waiting" && state.queued) {
        if (retryJoinLater()) return;
        stopWaiting();
      }
      break;
    default:
      // "internal" (our bug), "too_deep", "bad_characters", "rate_limited",
      // …: nothing changed, the call (if any) stays on; say so in words.
      break;
  }
  // no_relay: this member hides their IP address and the site has no relay to hide it behind.
  if (["not_a_member", "no_such_sphere", "already_in_call", "no_relay"].includes(msg.code) && state.phase === "waiting") {
    stopWaiting();
  }
  showAlert(words);
});

// ---------------------------------------------------------------- queue

function joinQueue() {
  clearAlert();
  state.queued = true;
  state.joinRetries = 0;
  setPhase("waiting");
  sendJoin();
}

/** Ask to wait; if the socket is down, socketOpened() asks again once it is back. */
function sendJoin() {
  stopJoinRetry();
  preparePeerConnection();
  // Not counted among those waiting until the server says so again.
  state.inQueue = false;
  state.hint = null;
  state.joinPending = rt.send({ type: "queue.join", sphere: sphereId });
}

/** After "unavailable": keep waiting and ask again shortly; false once the tries are used up. */
function retryJoinLater() {
  if (state.joinRetries >= JOIN_RETRY_DELAYS_MS.length) return false;
  const delay = JOIN_RETRY_DELAYS_MS[state.joinRetries];
  state.joinRetries += 1;
  showAlert(`ChatSpheres can't reach a service it needs right now. Still looking; trying again in ${Math.round(delay / 1000)} seconds…`);
  state.joinRetryTimer = window.setTimeout(() => {
    state.joinRetryTimer = null;
    if (state.phase === "waiting" && state.queued) sendJoin();
  }, delay);
  return true;
}

function stopJoinRetry() {
  if (state.joinRetryTimer !== null) {
    window.clearTimeout(state.joinRetryTimer);
    state.joinRetryTimer = null;
  }
}

/** Back to the preview from waiting, because the server would not let this tab wait. */
function stopWaiting() {
  stopJoinRetry();
  state.joinRetries = 0;
  state.queued = false;
  if (state.phase === "waiting") setPhase("preview");
}

function cancelQueue() {
  stopJoinRetry();
  state.joinRetries = 0;
  state.joinPending = false;
  state.queued = false;
  state.cancelPending = rt.send({ type: "queue.leave" });
  state.reflection = null;
  setPhase("preview");
}

// ---------------------------------------------------------------- the call

function startCall(msg) {
  state.queued = false;
  clearAlert();
  const pc = takePeerConnection(msg);
  const call = {
    id: msg.conversation,
    polite: msg.polite !== false,
    pc,
    partner: msg.partner ?? {},
    makingOffer: false,
    ignoreOffer: false,
    settingAnswer: false,
    tracksAdded: false,
    pendingCandidates: [],
    signals: Promise.resolve(),
    remoteStream: new MediaStream(),
    mediaArrived: false,
    connState: "connecting",
    partnerAway: false,
    iceRestarts: 0, // in this stretch of trouble
    lastRestartAt: 0,
    iceTimer: null,
    iceDue: 0,
    restartPending: false, // a restart waits for the socket (or the partner) to be back
    partnerAudio: true,
    partnerVideo: true,
    ending: null,
    mediaTimer: null,
    endTimer: null,
    stopIceRenewal: null,
  };
  state.call = call;
  call.stopIceRenewal = keepIceFresh({
    pc,
    conversation: call.id,
    expiresAt: msg.ice_expires_at,
    url: config.iceUrl,
    csrfToken: config.csrfToken || csrfFromCookie(),
    isCurrent: () => state.call === call && !call.ending,
    restart: () => {
      if (!call.polite) pc.restartIce();
    },
  });
  state.reflection = null;
  Object.assign(window.chatspheres, { pc, conversation: call.id, polite: call.polite, iceRestarts: 0 });

  pc.onicecandidate = ({ candidate }) => {
    if (candidate) sendSignal(call, { candidate: candidate.toJSON() });
  };
  pc.onnegotiationneeded = () => makeOffer(call);
  pc.ontrack = ({ track }) => {
    if (state.call !== call) return;
    call.remoteStream.addTrack(track);
    els.remoteVideo.srcObject = call.remoteStream;
    els.remoteVideo.play().catch(() => {});
    const arrived = () => markMediaArrived(call);
    if (!track.muted) arrived();
    else track.addEventListener("unmute", arrived, { once: true });
  };
  pc.oniceconnectionstatechange = () => updateConnectionState(call);
  pc.onconnectionstatechange = () => updateConnectionState(call);

  call.mediaTimer = window.setTimeout(() => {
    if (state.call === call && !call.mediaArrived) {
      call.connState = "no-media";
      renderStatus();
    }
  }, NO_MEDIA_TIMEOUT_MS);

  // The offering side starts its offer before it draws the call screen, so
  // the browser makes the offer while the page lays itself out.
  if (!call.polite && state.mediaSettled) {
    addLocalMedia(call);
    makeOffer(call);
  }

  renderPartner(call, msg);
  safetyPerson({ handle: call.partner.handle, name: call.partner.name, conversation: call.id });
  showRecap(msg.recap);
  balanceStart({ conversation: call.id, partnerName: call.partner.name, audioTrack: () => liveTrack("audio") });
  softStartBegin(msg, { partnerName: call.partner.name });
  promptsCallStarted(msg);
  els.chatLog.replaceChildren();
  els.chatEmpty.hidden = false;
  els.chatInput.value = "";
  els.remoteVideo.srcObject = null;
  renderPartnerMedia(call);
  setPhase("call");
  attachLocal();

  // The impolite side offers at once; the polite side adds its tracks when
  // the offer arrives, so they ride on the offered transceivers (no glare,
  // no second round trip). A page that answered a ring at once may still be
  // asking for the camera: its tracks follow as soon as it has them.
  if (!call.polite) {
    if (state.mediaSettled) addLocalMedia(call);
    else
      state.mediaReady.then(() => {
        if (state.call !== call) return;
        addLocalMedia(call);
        sendMediaState();
      });
  }
  sendMediaState();
}

async function makeOffer(call) {
  const pc = call.pc;
  if (call.makingOffer || state.call !== call) return;
  try {
    call.makingOffer = true;
    await pc.setLocalDescription();
    // If the socket is down this is lost; resumeSignaling() sends it again.
    sendSignal(call, { description: pc.localDescription.toJSON() });
  } catch (error) {
    console.warn("call: could not make an offer", error);
  } finally {
    call.makingOffer = false;
  }
}

function preparePeerConnection() {
  if (preparedPc || typeof RTCPeerConnection === "undefined") return;
  try {
    preparedPc = new RTCPeerConnection({ iceServers: [] });
  } catch {
    preparedPc = null;
  }
}

/** The prepared peer connection (given the call's ICE servers), or a new one (ice.js). */
function takePeerConnection(msg) {
  const pc = preparedPc;
  preparedPc = null;
  return peerConnectionFor(msg, pc);
}

function addLocalMedia(call) {
  if (call.tracksAdded) return;
  call.tracksAdded = true;
  const stream = state.stream ?? new MediaStream();
  for (const kind of ["audio", "video"]) {
    const track = liveTrack(kind);
    if (track) call.pc.addTrack(track, stream);
    // Without a camera or microphone, still ask to receive the partner's.
    else if (!call.polite) call.pc.addTransceiver(kind, { direction: "recvonly" });
  }
}

async function handleSignal(call, { description, candidate }) {
  const pc = call.pc;
  if (state.call !== call || pc.signalingState === "closed") return;
  if (description) {
    const readyForOffer = !call.makingOffer && (pc.signalingState === "stable" || call.settingAnswer);
    const offerCollision = description.type === "offer" && !readyForOffer;
    call.ignoreOffer = !call.polite && offerCollision;
    if (call.ignoreOffer) return;
    call.settingAnswer = description.type === "answer";
    try {
      await pc.setRemoteDescription(description);
    } finally {
      call.settingAnswer = false;
    }
    if (description.type === "offer") {
      if (!state.mediaSettled) await state.mediaReady;
      if (state.call !== call) return;
      addLocalMedia(call);
      await pc.setLocalDescription();
      sendSignal(call, { description: pc.localDescription.toJSON() });
    }
    const queued = call.pendingCandidates.splice(0);
    for (const c of queued) await addCandidate(call, c);
  } else if (candidate) {
    if (!pc.remoteDescription) {
      call.pendingCandidates.push(candidate);
      return;
    }
    await addCandidate(call, candidate);
  }
}

async function addCandidate(call, candidate) {
  try {
    await call.pc.addIceCandidate(candidate);
  } catch (error) {
    // Candidates for an offer we chose to ignore are expected to fail.
    if (!call.ignoreOffer) console.warn("call: ICE candidate rejected", error);
  }
}

function sendSignal(call, data) {
  if (state.call !== call) return;
  rt.send({ type: "signal", conversation: call.id, data });
}

function sendMediaState() {
  const call = state.call;
  if (!call || call.ending) return;
  rt.send({
    type: "media.state",
    conversation: call.id,
    audio: liveTrack("audio") !== null && state.audioOn,
    video: liveTrack("video") !== null && state.videoOn,
  });
}

function markMediaArrived(call) {
  if (call.mediaArrived || state.call !== call) return;
  call.mediaArrived = true;
  if (call.connState === "no-media") {
    call.connState = "connected";
    renderStatus();
  }
}

function updateConnectionState(call) {
  if (state.call !== call) return;
  const pc = call.pc;
  const ice = pc.iceConnectionState;
  const conn = pc.connectionState;
  let next;
  if (ice === "failed" || conn === "failed") {
    next = "failed";
    iceTrouble(call, 0);
  } else if (ice === "disconnected" || conn === "disconnected") {
    next = "reconnecting";
    iceTrouble(call, ICE_TROUBLE_MS);
  } else if (conn === "connected" || ice === "connected" || ice === "completed") {
    next = "connected";
    // The media path is back: the next stretch of trouble may restart again.
    window.clearTimeout(call.iceTimer);
    call.iceTimer = null;
    call.restartPending = false;
    call.iceRestarts = 0;
    // A partner with neither camera nor microphone never sends media: once
    // connected, there is nothing more to wait for.
    if (!call.partnerAudio && !call.partnerVideo) markMediaArrived(call);
  } else if (call.connState === "no-media") {
    next = "no-media";
  } else {
    next = "connecting";
  }
  if (next === "connected" && !call.mediaArrived && call.connState === "no-media") next = "no-media";
  call.connState = next;
  renderStatus();
}

// ---------------------------------------------------------------- keeping the media path

function iceInTrouble(pc) {
  return ["disconnected", "failed"].includes(pc.iceConnectionState) || ["disconnected", "failed"].includes(pc.connectionState);
}

/**
 * ICE went wrong: the offering side restarts it in `after` ms if it is still
 * wrong then, and never sooner than ICE_TROUBLE_MS after its last restart.
 */
function iceTrouble(call, after) {
  // The polite side never restarts on its own: two restarts would collide.
  if (call.polite) return;
  const due = Math.max(Date.now() + after, call.lastRestartAt + ICE_TROUBLE_MS);
  if (call.iceTimer !== null && call.iceDue <= due) return;
  window.clearTimeout(call.iceTimer);
  call.iceDue = due;
  call.iceTimer = window.setTimeout(() => {
    call.iceTimer = null;
    restartIce(call);
  }, due - Date.now());
}

/**
 * Restart ICE (offering side only): perfect negotiation sends the new offer.
 * With the socket or the partner away the offer would be lost, so the restart
 * waits for them (resumeSignaling). While ICE stays wrong it is tried again
 * every ICE_TROUBLE_MS, MAX_ICE_RESTARTS times at most.
 */
function restartIce(call) {
  if (state.call !== call || call.polite || call.ending || !iceInTrouble(call.pc)) return;
  if (call.iceRestarts >= MAX_ICE_RESTARTS) return; // "Connection failed": Next is offered
  if (!rt.isOpen || call.partnerAway) {
    call.restartPending = true;
    return;
  }
  call.restartPending = false;
  call.iceRestarts += 1;
  call.lastRestartAt = Date.now();
  window.chatspheres.iceRestarts += 1;
  call.pc.restartIce();
  // Stuck with an offer the partner never got: restartIce() waits for
  // "stable", so send that offer again; the restart follows its answer.
  resendOffer(call);
  // Still wrong ICE_TROUBLE_MS from now: restart again.
  iceTrouble(call, ICE_TROUBLE_MS);
}

/** Our offer may have been lost (sent into a dropped socket): send it again. */
function resendOffer(call) {
  const offer = call.pc.localDescription;
  if (call.pc.signalingState === "have-local-offer" && offer) sendSignal(call, { description: offer.toJSON() });
}

/** This socket or the partner's is back: finish what signaling the outage cut short. */
function resumeSignaling(call) {
  if (state.call !== call || call.ending || call.partnerAway || !rt.isOpen) return;
  resendOffer(call);
  if (!call.polite && (call.restartPending || iceInTrouble(call.pc))) iceTrouble(call, 0);
}

function renderPartner(call, msg) {
  const partner = call.partner;
  els.partnerName.textContent = partner.name || "Your partner";
  els.headings.call.textContent = `Call with ${partner.name || "your partner"}`;
  els.remoteVideo.setAttribute("aria-label", partner.name ? `${partner.name}'s video` : "Your partner's video");
  els.remoteInitial.textContent = (partner.name || "?").trim().charAt(0).toUpperCase();
  els.partnerBio.textContent = partner.bio || "";
  els.partnerBio.hidden = !partner.bio;
  const times = Number.isInteger(msg.talked_before) ? msg.talked_before : 0;
  els.talkedBefore.hidden = times <= 0;
  els.talkedBefore.textContent =
    times === 1 ? "You've talked once before" : times > 1 ? `You've talked ${times} times before` : "";
  const shared = Array.isArray(msg.shared_interests) ? msg.shared_interests : [];
  const all = Array.isArray(partner.interests) ? partner.interests : [];
  const chips = shared.length ? shared : all;
  els.interestsTitle.textContent = shared.length ? "You both like" : "Interests";
  els.interestsTitle.hidden = chips.length === 0;
  els.interests.replaceChildren(
    ...chips.map((interest) => {
      const li = document.createElement("li");
      li.className = shared.length ? "chip chip-shared" : "chip";
      li.textContent = String(interest);
      return li;
    }),
  );
  els.interests.hidden = chips.length === 0;
}

function renderPartnerMedia(call) {
  const name = partnerName(call);
  setText(els.partnerMuted, `${name} is muted`);
  setText(els.partnerCameraOff, `${name}'s camera is off`);
  els.partnerMuted.hidden = call.partnerAudio;
  els.partnerCameraOff.hidden = call.partnerVideo;
  root.dataset.remoteVideo = call.partnerVideo ? "on" : "off";
}

/** Tell screen readers what the partner just changed (the overlays only show it). */
function announcePartnerMedia(call, audioBefore, videoBefore) {
  const name = partnerName(call);
  const changes = [];
  if (audioBefore !== call.partnerAudio) changes.push(call.partnerAudio ? `${name} unmuted` : `${name} muted`);
  if (videoBefore !== call.partnerVideo) {
    changes.push(call.partnerVideo ? `${name} turned their camera on` : `${name} turned their camera off`);
  }
  if (changes.length) announce(`${changes.join(". ")}.`);
}

function appendChat(who, text, kind) {
  // Paragraphs in a role="log" container: a list there is not a list to screen readers.
  const item = document.createElement("p");
  item.className = `chat-message chat-${kind}`;
  const name = document.createElement("span");
  name.className = "chat-who";
  name.textContent = who;
  const body = document.createElement("span");
  body.className = "chat-text";
  body.textContent = text;
  // The colon keeps "Name: message" readable for screen readers.
  const sep = document.createElement("span");
  sep.className = "visually-hidden";
  sep.textContent = ": ";
  item.append(name, sep, body);
  els.chatLog.append(item);
  els.chatEmpty.hidden = true;
  els.chatLog.scrollTop = els.chatLog.scrollHeight;
  if (kind === "partner" && DRAWER_LAYOUT.matches && !state.drawerOpen) {
    state.unread += 1;
    renderUnread();
  }
}

function sendChat(event) {
  event.preventDefault();
  const call = state.call;
  // Control characters (pasted, never typed) are refused by the server.
  // eslint-disable-next-line no-control-regex
  const text = els.chatInput.value.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, "").trim();
  if (!call || !text) return;
  if (text.length > CHAT_MAX) {
    showAlert(`Messages can be at most ${CHAT_MAX} characters.`);
    return;
  }
  if (!rt.send({ type: "chat.send", conversation: call.id, text })) {
    showAlert("Your message wasn't sent because the connection dropped. Try again in a moment.");
    return;
  }
  appendChat("You", text, "me");
  els.chatInput.value = "";
}

function endCall(reason) {
  const call = state.call;
  if (!call || call.ending) return;
  call.ending = reason;
  clearAlert();
  if (!rt.send({ type: "call.end", conversation: call.id, reason })) {
    // The socket is down: leave now, and tell the server once it is back
    // (it may still hold the call open for this tab).
    state.unsentEnd = { conversation: call.id, reason };
    finishCall(reason, true);
    return;
  }
  call.endTimer = window.setTimeout(() => {
    if (state.call === call) finishCall(reason, true);
  }, END_FALLBACK_MS);
}

/** Each ending in its own words: who ended it, and how. */
function endedText(reason, byMe, name) {
  if (reason === "lost" || reason === "disconnected") return "Connection lost";
  if (reason === "signed-out") return "Call ended — you were signed out";
  if (byMe) return "You ended the call";
  switch (reason) {
    case "next":
      return `${name} moved on`;
    case "left":
      return `${name} left`;
    case "ended":
      return `${name} ended the call`;
    default:
      return "Call ended";
  }
}

function finishCall(reason, byMe) {
  const call = state.call;
  if (!call) return;
  const goNext = call.ending === "next";
  // Pressed End call (or Next) while the partner's press was on its way: the
  // server saved theirs, but this person ended the call too.
  const mine = byMe || (Boolean(call.ending) && ["ended", "next"].includes(reason));
  const name = partnerName(call);
  const partnerMovedOn = reason === "next" && !mine;
  state.ending = { words: endedText(reason, mine, name), partnerMovedOn };
  teardown(call);
  state.reflection = {
    conversation: call.id,
    partnerName: call.partner.name || "",
    done: false,
    sending: false,
  };
  resetReflection();
  startReflection({ conversation: call.id, partner: call.partner });
  balanceEnd();
  softStartEnd();
  setText(els.headings.ended, state.ending.words);
  setText(els.againButton, partnerMovedOn ? "Find someone new" : "Start a conversation");
  els.waitingAfter.textContent = "";
  if (goNext || (partnerMovedOn && keepQueued())) {
    if (!goNext) {
      // "Keep me in the queue": looking again already, and saying why.
      els.waitingAfter.textContent = `${state.ending.words}.`;
      announce(`${state.ending.words}. Looking for someone new.`);
    }
    state.queued = true;
    state.joinRetries = 0;
    setPhase("waiting");
    sendJoin();
  } else {
    state.endedText = state.ending.words;
    setPhase("ended");
  }
}

function teardown(call) {
  promptsCallEnded();
  window.removeEventListener("beforeunload", askBeforeLeaving);
  window.clearTimeout(call.mediaTimer);
  window.clearTimeout(call.endTimer);
  window.clearTimeout(call.iceTimer);
  call.stopIceRenewal?.();
  const pc = call.pc;
  pc.onicecandidate = null;
  pc.onnegotiationneeded = null;
  pc.ontrack = null;
  pc.oniceconnectionstatechange = null;
  pc.onconnectionstatechange = null;
  pc.close();
  for (const track of call.remoteStream.getTracks()) call.remoteStream.removeTrack(track);
  els.remoteVideo.srcObject = null;
  if (window.chatspheres.pc === pc) Object.assign(window.chatspheres, { pc: null, conversation: null });
  state.call = null;
}

// ---------------------------------------------------------------- reflection

function resetReflection() {
  const r = state.reflection;
  els.reflectionPartner.textContent = r?.partnerName ? `Your conversation with ${r.partnerName}` : "Your last conversation";
  els.ratingGroup.hidden = false;
  for (const button of els.ratingButtons) button.disabled = false;
  els.reflectionThanks.hidden = true;
}

function renderReflection() {
  const r = state.reflection;
  // While waiting for the next person it stays, so a note can be finished.
  const show = Boolean(r) && (state.phase === "ended" || state.phase === "waiting");
  els.reflection.hidden = !show;
  root.dataset.reflection = show ? "on" : "off";
}

async function rate(rating) {
  const r = state.reflection;
  if (!r || r.done || r.sending) return;
  r.sending = true;
  for (const button of els.ratingButtons) button.disabled = true;
  const url = config.reflectionUrl.replace("__conversation__", encodeURIComponent(r.conversation));
  let ok = false;
  try {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRFToken": config.csrfToken || csrfFromCookie(),
      },
      body: new URLSearchParams({ rating }),
    });
    ok = response.ok || response.type === "opaqueredirect";
  } catch {
    ok = false;
  }
  r.sending = false;
  if (state.reflection !== r) return;
  if (!ok) {
    for (const button of els.ratingButtons) button.disabled = false;
    showAlert("Your answer couldn't be saved. Please try again.");
    return;
  }
  r.done = true;
  els.ratingGroup.hidden = true;
  els.reflectionThanks.hidden = false;
  els.reflectionThanks.focus({ preventScroll: true });
}

function csrfFromCookie() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// ---------------------------------------------------------------- wiring

els.joinButton.addEventListener("click", joinQueue);
els.directCancel?.addEventListener("click", directCancel);
els.directAgain?.addEventListener("click", directStart);
els.cancelButton.addEventListener("click", cancelQueue);
els.againButton.addEventListener("click", joinQueue);
els.nextButton.addEventListener("click", () => endCall("next"));
els.endButton.addEventListener("click", () => endCall("ended"));
els.chatForm.addEventListener("submit", sendChat);
els.chatToggle.addEventListener("click", () => setDrawer(!state.drawerOpen));
for (const box of els.keepQueued) box.addEventListener("change", () => setKeepQueued(box.checked));
setKeepQueued(keepQueued());
window.visualViewport?.addEventListener("resize", followVisualViewport);
window.visualViewport?.addEventListener("scroll", followVisualViewport);
followVisualViewport();
els.retryMedia.addEventListener("click", () => startMedia());
for (const button of els.audioButtons) button.addEventListener("click", () => setAudio(!state.audioOn));
for (const button of els.videoButtons) button.addEventListener("click", () => setVideo(!state.videoOn));
for (const button of els.ratingButtons) button.addEventListener("click", () => rate(button.dataset.rating));
els.cameraSelect.addEventListener("change", () => switchDevice("video", els.cameraSelect.value));
els.micSelect.addEventListener("change", () => switchDevice("audio", els.micSelect.value));
navigator.mediaDevices?.addEventListener?.("devicechange", () => refreshDevices());

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.drawerOpen && DRAWER_LAYOUT.matches) {
    // The drawer closes and focus goes back to what opened it.
    setDrawer(false);
    els.chatToggle.focus();
    return;
  }
  if (event.defaultPrevented || event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])")) return;
  const key = typeof event.key === "string" ? event.key.toLowerCase() : "";
  if (key === "m") {
    event.preventDefault();
    setAudio(!state.audioOn);
  } else if (key === "v") {
    event.preventDefault();
    setVideo(!state.videoOn);
  }
});

window.addEventListener("pagehide", (event) => {
  if (event.persisted) {
    // Going into the back/forward cache: leave cleanly, reload on return.
    window.addEventListener("pageshow", () => window.location.reload(), { once: true });
  }
  // The connection closes cleanly with the page (tabConnection): the server
  // ends the call as "left" and tells the partner at once, and takes this
  // tab out of the queue.
});

setPhase(direct ? "direct" : "preview", { focus: false });
renderDirect();
renderMediaControls();
state.mediaReady = startMedia()
  .catch((error) => console.warn("call: media could not start", error))
  .finally(() => {
    state.mediaSettled = true;
  });
