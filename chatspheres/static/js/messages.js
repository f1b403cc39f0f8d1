// Messages: the navigation's unread count on every page (startMessagesNav,
// from site.js), and on a thread page sending (over the socket, or with fetch),
// new messages shown live, marking read while the tab is visible, and "Load
// older messages".
// Without JavaScript the thread is a plain form post and a link for older ones.
//
// Frames: message.new (a message in one of the member's threads, with their
// unread count; logged, so a tab that reconnects catches up), messages.unread
// (the count changed elsewhere, or a resynced tab needs it) and message.seen
// (the other read up to a message: only when both turned read receipts on);
// message.sent / message.refused answer this tab's message.send.
import { tabConnection } from "./realtime.js";

// How long a send over the socket may wait for its answer before the page asks
// again over HTTP (with the same key: the message is still stored once).
const SOCKET_ANSWER_MS = 5000;

function csrfToken(form) {
  const field = form?.querySelector("input[name='csrfmiddlewaretoken']");
  if (field) return field.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The navigation's "Messages" count, kept live; returns its frame handlers by type. */
export function startMessagesNav(rt) {
  const count = document.getElementById("messages-unread");
  if (!count) return {};
  function setUnread(unread) {
    if (!Number.isInteger(unread) || unread < 0) return;
    count.dataset.unread = String(unread);
    count.querySelector(".count-number").textContent = String(unread);
    count.hidden = unread === 0;
  }
  const handlers = {
    "message.new": (msg) => setUnread(msg.unread),
    "messages.unread": (msg) => setUnread(msg.unread),
  };
  for (const [type, fn] of Object.entries(handlers)) rt.on(type, fn);
  return {};
}

function startThread() {
  const configElement = document.getElementById("thread-config");
  const log = document.getElementById("thread-log");
  const form = document.getElementById("compose");
  if (!configElement || !log || !form) return;
  const config = JSON.parse(configElement.textContent);
  const rt = tabConnection();
  const field = form.querySelector("textarea[name='body']");
  const keyField = form.querySelector("input[name='key']");
  const errorLine = document.getElementById("compose-error");
  const seenLine = document.getElementById("message-seen");
  const older = document.getElementById("load-older");
  let seenUpto = Number(log.dataset.seenUpto || 0);

  function scrollToEnd() {
    log.lastElementChild?.scrollIntoView({ block: "end" });
  }

  function newestId() {
    let newest = 0;
    for (const item of log.querySelectorAll("[data-message-id]")) newest = Math.max(newest, Number(item.dataset.messageId));
    return newest;
  }

  function showSeen() {
    if (!seenLine) return;
    const mine = log.querySelectorAll(".message-mine[data-message-id]");
    const last = mine[mine.length - 1];
    seenLine.hidden = !(last && seenUpto && Number(last.dataset.messageId) <= seenUpto);
  }

  // As the server writes it on the page ("30 Nov, 16:31", in the member's own zone),
  // so messages that arrive live read like the ones that were there.
  function shownTime(iso) {
    const options = { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    try {
      return new Date(iso).toLocaleString("en-GB", { ...options, timeZone: config.timeZone || undefined });
    } catch {
      return new Date(iso).toLocaleString("en-GB", options);
    }
  }

  function itemFrom(message) {
    const item = document.createElement("li");
    item.className = "message-item" + (message.mine ? " message-mine" : "");
    item.id = `message-${message.id}`;
    item.dataset.messageId = String(message.id);
    if (message.key) item.dataset.key = message.key;
    const meta = document.createElement("p");
    meta.className = "message-meta";
    const author = document.createElement("span");
    author.className = "message-author";
    author.textContent = message.mine ? "You" : message.author;
    const time = document.createElement("time");
    time.dateTime = message.created;
    time.textContent = shownTime(message.created);
    meta.append(author, " ", time);
    const body = document.createElement("div");
    body.className = "message-body";
    // Built by the server from escaped text: plain links and cards of our own pages only.
    body.innerHTML = message.html;
    item.append(meta, body);
    if (!message.mine) {
      const report = document.createElement("a");
      report.className = "link-button message-report";
      report.href = config.reportUrl.replace("/0/", `/${message.id}/`);
      report.textContent = "Report";
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = ` this message from ${message.author}`;
      report.append(hidden);
      item.append(report);
    }
    return item;
  }

  function place(message) {
    document.getElementById("thread-empty")?.remove();
    const existing = document.getElementById(`message-${message.id}`)
      || (message.key && log.querySelector(`[data-key="${CSS.escape(message.key)}"]`));
    const item = itemFrom(message);
    if (existing) existing.replaceWith(item);
    else log.append(item);
    showSeen();
    return item;
  }

  let reading = null;
  function markRead() {
    if (document.visibilityState !== "visible") return;
    const upto = newestId();
    if (!upto || reading === upto) return;
    reading = upto;
    const body = new URLSearchParams({ upto: String(upto) });
    fetch(config.readUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
      body,
    }).catch(() => {
      reading = null;
    });
  }

  // Sending. Over the tab's socket when it is open (the quickest way: no new
  // request, the session already known), else, or when no answer comes in
  // time, over HTTP with the same key: the server stores a key's message once,
  // whichever way it came, and answers only once it is saved.
  const waiting = new Map(); // key -> settle(answer | null)

  function settle(key, answer) {
    const done = waiting.get(key);
    if (done) done(answer);
  }

  function settleAll(answer) {
    for (const done of [...waiting.values()]) done(answer);
  }

  function overSocket(body, key) {
    if (!rt.isOpen || body.length > config.maxLength) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = window.setTimeout(() => settle(key, null), SOCKET_ANSWER_MS);
      waiting.set(key, (answer) => {
        window.clearTimeout(timer);
        waiting.delete(key);
        resolve(answer);
      });
      if (!rt.send({ type: "message.send", to: config.handle, body, key })) settle(key, null);
    });
  }

  rt.on("message.sent", (msg) => settle(msg.key, { ok: true, message: msg.message }));
  rt.on("message.refused", (msg) => settle(msg.key, { ok: false, message: msg.message }));
  // A refusal that names no message (the server was busy or failed): try HTTP now.
  rt.on("error", () => settleAll(null));
  rt.onState((state) => {
    if (state !== "open") settleAll(null);
  });

  async function overHttp(body, key) {
    const data = new URLSearchParams({ body, key });
    // A network failure is retried with the same key, so the message is stored once.
    for (let attempt = 0; ; attempt += 1) {
      let response;
      try {
        response = await fetch(config.sendUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
          body: data,
        });
      } catch (error) {
        if (attempt >= 3) throw error;
        await new Promise((resolve) => window.setTimeout(resolve, 500 * 2 ** attempt));
        continue;
      }
      const answer = await response.json().catch(() => ({}));
      return response.ok ? { ok: true, message: answer.message } : { ok: false, message: answer.message };
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = field.value;
    if (!body.trim()) {
      errorLine.textContent = "Write something before you send it.";
      errorLine.hidden = false;
      return;
    }
    const key = keyField.value || newKey();
    keyField.value = newKey();
    errorLine.hidden = true;
    field.value = "";
    try {
      const answer = (await overSocket(body, key)) ?? (await overHttp(body, key));
      if (!answer.ok) {
        field.value = body;
        errorLine.textContent = answer.message || "That message could not be sent. Please try again.";
        errorLine.hidden = false;
        return;
      }
      place(answer.message);
      scrollToEnd();
    } catch {
      field.value = body;
      errorLine.textContent = "You seem to be offline. Your message was not sent yet; press Send message again.";
      errorLine.hidden = false;
      keyField.value = key;
    }
  });

  field.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  rt.on("message.new", (msg) => {
    if (msg.with_handle !== config.handle) return;
    const item = place(msg.message);
    // When it was on screen (the first frame after it was placed), for the delivery benchmark.
    requestAnimationFrame(() => {
      item.dataset.paintedAt = String(performance.timeOrigin + performance.now());
    });
    scrollToEnd();
    if (!msg.message.mine) markRead();
  });
  rt.on("message.seen", (msg) => {
    if (msg.with_handle !== config.handle) return;
    seenUpto = Math.max(seenUpto, msg.upto);
    showSeen();
  });
  document.addEventListener("visibilitychange", markRead);

  if (older) {
    older.addEventListener("click", async (event) => {
      event.preventDefault();
      const cursor = older.dataset.cursor;
      if (!cursor) return;
      older.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(`${config.olderUrl}?before=${encodeURIComponent(cursor)}`, { credentials: "same-origin" });
        if (!response.ok) return;
        const next = response.headers.get("X-Older-Cursor");
        const first = log.firstElementChild;
        log.insertAdjacentHTML("afterbegin", await response.text());
        first?.scrollIntoView({ block: "start" });
        if (next) {
          older.dataset.cursor = next;
          older.href = `?before=${next}`;
        } else {
          older.closest("p")?.remove();
        }
      } finally {
        older.removeAttribute("aria-busy");
      }
    });
  }
  showSeen();
  scrollToEnd();
}

if (document.getElementById("thread-config")) {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startThread, { once: true });
  else startThread();
}
