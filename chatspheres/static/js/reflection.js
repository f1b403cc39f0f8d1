// What connections adds to the call page: the partner card's recap (what you
// shared before, and your own notes), and, after the call, Follow, "I'd like
// to talk again" and a private note. Each choice is saved at once with a
// fetch to the same addresses the person's page posts its forms to.

import { tabConnection } from "./realtime.js";

const byId = (id) => document.getElementById(id);

const els = {
  recap: byId("recap"),
  recapSummary: byId("recap-summary"),
  recapNotesTitle: byId("recap-notes-title"),
  recapNotes: byId("recap-notes"),
  talkedBefore: byId("talked-before"),
  extras: byId("reflection-extras"),
  followButton: byId("follow-button"),
  talkAgainButton: byId("talk-again-button"),
  choiceStatus: byId("choice-status"),
  noteForm: byId("note-form"),
  noteText: byId("note-text"),
  noteButton: byId("note-save"),
  noteStatus: byId("note-status"),
  personLink: byId("reflection-person-link"),
  talkAgainHint: byId("talk-again-hint"),
};

// One after-call screen at a time; a newer one makes older answers stale.
let current = null;

function csrfToken() {
  try {
    const config = JSON.parse(byId("call-config").textContent);
    if (config.csrfToken) return config.csrfToken;
  } catch {
    // fall through to the cookie
  }
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function personUrl(handle, path = "") {
  return els.extras.dataset.personUrl.replace("__handle__", encodeURIComponent(handle)) + path;
}

/** A date such as "2025-11-12" (already in the viewer's time zone) as "12 November". */
function dayWords(isoDate) {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(isoDate || "");
  if (!match) return "";
  const [year, month, day] = match.slice(1).map(Number);
  const options = { day: "numeric", month: "long", timeZone: "UTC" };
  if (year !== new Date().getFullYear()) options.year = "numeric";
  return new Intl.DateTimeFormat("en-GB", options).format(new Date(Date.UTC(year, month - 1, day)));
}

// ---------------------------------------------------------------- the recap

/** Show what the viewer shared with this partner before; nothing for a first meeting. */
export function showRecap(recap) {
  const times = Number.isInteger(recap?.times) ? recap.times : 0;
  els.recap.hidden = times <= 0;
  if (times <= 0) {
    els.recapSummary.textContent = "";
    els.recapNotes.replaceChildren();
    return;
  }
  // The recap says it better than the plain count.
  els.talkedBefore.hidden = true;
  const day = dayWords(recap.last_at);
  const where = recap.last_sphere ? ` in ${recap.last_sphere}` : "";
  const when = day ? `${times === 1 ? "on" : "last on"} ${day}${where}` : where.trim();
  const count = times === 1 ? "You've talked once before" : `You've talked ${times} times`;
  els.recapSummary.textContent = when ? `${count}, ${when}` : count;
  const notes = Array.isArray(recap.notes) ? recap.notes : [];
  els.recapNotesTitle.hidden = notes.length === 0;
  els.recapNotes.hidden = notes.length === 0;
  els.recapNotes.replaceChildren(
    ...notes.map((note) => {
      const item = document.createElement("li");
      const text = document.createElement("p");
      text.textContent = String(note.text ?? "");
      const time = document.createElement("time");
      time.dateTime = String(note.created ?? "");
      time.textContent = dayWords(note.created);
      item.append(time, text);
      return item;
    }),
  );
}

// ---------------------------------------------------------------- after the call

async function send(url, body) {
  try {
    const response = await fetch(url, {
      method: body ? "POST" : "GET",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(body ? { "Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": csrfToken() } : {}),
      },
      body: body ? new URLSearchParams(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data };
  } catch {
    return { ok: false, status: 0, data: {} };
  }
}

function render(screen) {
  els.followButton.textContent = screen.following ? "Unfollow" : "Follow";
  els.talkAgainButton.setAttribute("aria-pressed", String(screen.wished));
  els.followButton.disabled = screen.busy || !screen.loaded;
  els.talkAgainButton.disabled = screen.busy || !screen.loaded;
  els.noteButton.disabled = screen.noteBusy;
  // Once both wished there is no secret left to explain.
  els.talkAgainHint.hidden = screen.connected;
}

function say(el, text, mutual = false) {
  el.textContent = text;
  el.classList.toggle("is-mutual", mutual);
}

function talkAgainWords(screen) {
  if (screen.connected) return `You and ${screen.name} both want to talk again.`;
  if (screen.wished) return `Saved. ${screen.name} will only know if they'd like to talk again too.`;
  return "";
}

let listening = false;

/** The partner wished too while this screen is open: say so here as well as in the header. */
function listenForConnection() {
  if (listening) return;
  listening = true;
  tabConnection().on("notification.new", (msg) => {
    const screen = current;
    const card = msg?.notification;
    if (!screen || card?.kind !== "connection_made" || typeof card.url !== "string") return;
    if (!card.url.endsWith(personUrl(screen.handle))) return;
    screen.connected = true;
    screen.wished = true;
    say(els.choiceStatus, talkAgainWords(screen), true);
    render(screen);
  });
}

/** The call with ``partner`` ended: offer Follow, talk again and a note about them. */
export async function startReflection({ conversation, partner }) {
  const handle = typeof partner?.handle === "string" ? partner.handle : "";
  if (!handle || !els.extras) {
    current = null;
    if (els.extras) els.extras.hidden = true;
    return;
  }
  const screen = {
    conversation,
    handle,
    name: partner.name || "them",
    following: false,
    wished: false,
    connected: false,
    noteId: null,
    loaded: false,
    busy: false,
    noteBusy: false,
  };
  current = screen;
  listenForConnection();
  els.extras.hidden = false;
  els.noteText.value = "";
  say(els.choiceStatus, "");
  say(els.noteStatus, "");
  els.personLink.href = personUrl(handle);
  els.personLink.textContent = `${screen.name}'s page`;
  render(screen);
  const { ok, status, data } = await send(personUrl(handle, `after/${encodeURIComponent(conversation)}/`));
  if (current !== screen) return;
  if (status === 404) {
    // Their page is gone for this member (a block): nothing to keep in touch with.
    els.extras.hidden = true;
    return;
  }
  if (ok) {
    screen.following = Boolean(data.following);
    screen.wished = Boolean(data.wished);
    screen.connected = Boolean(data.connected);
    if (data.note && Number.isInteger(data.note.id)) {
      screen.noteId = data.note.id;
      els.noteText.value = String(data.note.text ?? "");
      say(els.noteStatus, "Saved. Only you can see it.");
    }
    say(els.choiceStatus, talkAgainWords(screen), screen.connected);
  }
  screen.loaded = true;
  render(screen);
}

async function toggleFollow() {
  const screen = current;
  if (!screen || screen.busy) return;
  screen.busy = true;
  render(screen);
  const path = screen.following ? "unfollow/" : "follow/";
  const { ok, data } = await send(personUrl(screen.handle, path), { conversation: screen.conversation });
  screen.busy = false;
  if (current !== screen) return;
  if (ok) {
    screen.following = Boolean(data.following);
    say(els.choiceStatus, screen.following ? `You follow ${screen.name}.` : `You no longer follow ${screen.name}.`);
  } else {
    say(els.choiceStatus, data.message || "That couldn't be saved. Please try again.");
  }
  render(screen);
  els.followButton.focus();
}

async function toggleTalkAgain() {
  const screen = current;
  if (!screen || screen.busy) return;
  screen.busy = true;
  render(screen);
  const path = screen.wished ? "talk-again/withdraw/" : "talk-again/";
  const { ok, data } = await send(personUrl(screen.handle, path), { conversation: screen.conversation });
  screen.busy = false;
  if (current !== screen) return;
  if (ok) {
    screen.wished = Boolean(data.wished);
    screen.connected = Boolean(data.connected);
    say(els.choiceStatus, screen.wished ? talkAgainWords(screen) : "Taken back.", screen.connected);
  } else {
    say(els.choiceStatus, data.message || "That couldn't be saved. Please try again.");
  }
  render(screen);
}

async function saveNote(event) {
  event.preventDefault();
  const screen = current;
  if (!screen || screen.noteBusy) return;
  const text = els.noteText.value.trim();
  if (!text) {
    say(els.noteStatus, "Write something first.");
    els.noteText.focus();
    return;
  }
  screen.noteBusy = true;
  render(screen);
  const path = screen.noteId ? `notes/${screen.noteId}/` : "notes/";
  const { ok, data } = await send(personUrl(screen.handle, path), { text, conversation: screen.conversation });
  screen.noteBusy = false;
  if (current !== screen) return;
  if (ok && data.note) {
    screen.noteId = data.note.id;
    say(els.noteStatus, "Saved. Only you can see it.");
  } else {
    say(els.noteStatus, data.message || "Your note couldn't be saved. Please try again.");
  }
  render(screen);
}

if (els.extras) {
  els.followButton.addEventListener("click", toggleFollow);
  els.talkAgainButton.addEventListener("click", toggleTalkAgain);
  els.noteForm.addEventListener("submit", saveNote);
  // A changed note is not saved yet: say so rather than show a stale "Saved".
  els.noteText.addEventListener("input", () => say(els.noteStatus, ""));
}
