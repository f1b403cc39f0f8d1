// Prompts in a call: "Draw a prompt" puts the same card in front of both
// people, "Pass" draws another at the same depth, and "Go deeper" raises the
// depth only once both have tapped it ("Ana wants to go deeper" tells the
// other). The server decides everything (docs/protocol.md, "Prompts in a
// call"); this module sends the taps and shows what the server says.
// call.js reaches it through promptsCallStarted / promptsCallEnded.
import { tabConnection } from "./realtime.js";

const DEPTH_WORDS = { 1: "Warm-up", 2: "Deeper", 3: "Personal" };
const DEEPEST = 3;
const IDLE_TEXT = "Stuck for what to say? Draw a prompt: you'll both see the same card.";

const byId = (id) => document.getElementById(id);
const els = {
  region: byId("prompt"),
  depth: byId("prompt-depth"),
  text: byId("prompt-text"),
  note: byId("prompt-note"),
  draw: byId("prompt-draw"),
  pass: byId("prompt-pass"),
  deeper: byId("prompt-deeper"),
  partnerPrompts: byId("partner-prompts"),
  peek: byId("prompt-peek"),
  peekText: byId("prompt-peek-text"),
};

// The call's prompts: { conversation, partnerName, depth, card, youWant, partnerWants, rose }.
let current = null;
const rt = tabConnection();

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function noteText() {
  if (!current) return "";
  const name = current.partnerName;
  if (current.partnerWants && !current.youWant) return `${name} wants to go deeper`;
  if (current.youWant && !current.partnerWants) return `Waiting for ${name} to tap Go deeper too`;
  if (current.rose) return `You both chose to go deeper: ${DEPTH_WORDS[current.depth] ?? ""}`;
  return "";
}

function render() {
  if (!els.region) return;
  const depth = current?.depth ?? 1;
  els.region.dataset.depth = String(depth);
  setText(els.depth, DEPTH_WORDS[depth] ?? "");
  setText(els.text, current?.card ?? IDLE_TEXT);
  els.region.dataset.card = current?.card ? "on" : "off";
  const note = noteText();
  setText(els.note, note);
  els.note.hidden = !note;
  // The card's words over the video, for a phone whose drawer is closed (call.css shows it there only).
  if (els.peek) {
    const peek = current?.card ? current.card : "";
    setText(els.peekText, note ? `${peek} (${note})` : peek);
    els.peek.hidden = !peek;
  }
  els.draw.disabled = !current;
  els.pass.disabled = !current?.card;
  els.deeper.disabled = !current || depth >= DEEPEST;
}

function renderPartnerPrompts(answers) {
  if (!els.partnerPrompts) return;
  const valid = (Array.isArray(answers) ? answers : []).filter(
    (a) => typeof a?.prompt === "string" && typeof a?.answer === "string",
  );
  els.partnerPrompts.replaceChildren(
    ...valid.flatMap((a) => {
      const term = document.createElement("dt");
      term.textContent = a.prompt;
      const detail = document.createElement("dd");
      detail.textContent = a.answer;
      return [term, detail];
    }),
  );
  els.partnerPrompts.hidden = valid.length === 0;
}

/** A call started (match.found): a fresh table at the warm-up, and the partner's profile answers. */
export function promptsCallStarted(msg) {
  current = {
    conversation: msg.conversation,
    partnerName: msg.partner?.name || "Your partner",
    depth: 1,
    card: null,
    youWant: false,
    partnerWants: false,
    rose: false,
  };
  delete els.text?.dataset.paintedAt;
  renderPartnerPrompts(msg.partner?.prompts);
  render();
}

/** The call is over: nothing to draw until the next one. */
export function promptsCallEnded() {
  current = null;
  render();
}

function send(type) {
  if (!current) return;
  rt.send({ type, conversation: current.conversation });
}

rt.on("prompt.card", (msg) => {
  if (!current || msg.conversation !== current.conversation || typeof msg.text !== "string") return;
  current.card = msg.text;
  if (Number.isInteger(msg.depth)) current.depth = msg.depth;
  render();
  // When the card reached the screen (the prompt benchmark reads it).
  requestAnimationFrame(() => {
    els.text.dataset.paintedAt = String(performance.timeOrigin + performance.now());
  });
});

rt.on("prompt.depth", (msg) => {
  if (!current || msg.conversation !== current.conversation) return;
  if (Number.isInteger(msg.depth)) current.depth = msg.depth;
  current.youWant = Boolean(msg.you_want);
  current.partnerWants = Boolean(msg.partner_wants);
  current.rose = Boolean(msg.rose);
  render();
});

// Tapping the words over the video opens the drawer, with the card and its buttons.
els.peek?.addEventListener("click", () => {
  const toggle = byId("chat-toggle");
  if (toggle?.getAttribute("aria-expanded") !== "true") toggle?.click();
  els.region?.scrollIntoView({ block: "nearest" });
  els.draw?.focus({ preventScroll: true });
});

els.draw?.addEventListener("click", () => send("prompt.draw"));
els.pass?.addEventListener("click", () => send("prompt.pass"));
els.deeper?.addEventListener("click", () => send("prompt.deeper"));
render();
