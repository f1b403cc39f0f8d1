// The header's "Notifications": the unread count, kept live from the socket,
// and a panel listing the newest ones. Without JavaScript the same control is
// a link to the /notifications/ page, which works on its own.
//
// Frames: notification.new (a new one, with the unread count; logged, so a
// tab that reconnects catches up) and notification.unread (the count changed
// elsewhere, or a resynced tab needs it). A tab that reconnects as a new tab
// reads the count again over HTTP.

function csrfToken(form) {
  const field = form?.querySelector("input[name='csrfmiddlewaretoken']");
  if (field) return field.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** Wire the header's Notifications; returns its frame handlers by type. */
export function startNotifications(rt) {
  const link = document.getElementById("notifications-toggle");
  const panel = document.getElementById("notifications-panel");
  const count = document.getElementById("notifications-unread");
  const live = document.getElementById("notifications-live");
  if (!link || !panel || !count) return {};

  // The link becomes a button that opens the panel in place.
  const button = document.createElement("button");
  button.type = "button";
  button.id = link.id;
  button.className = link.className;
  button.setAttribute("aria-describedby", link.getAttribute("aria-describedby") || "");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", panel.id);
  button.append(...link.childNodes);
  link.replaceWith(button);
  const panelUrl = link.dataset.panelUrl;
  const unreadUrl = link.dataset.unreadUrl;

  let open = false;
  let loading = null;

  function setUnread(unread) {
    if (!Number.isInteger(unread) || unread < 0) return;
    count.dataset.unread = String(unread);
    count.querySelector(".count-number").textContent = String(unread);
  }

  function announce(text) {
    if (!live) return;
    live.textContent = "";
    // A fresh node each time so screen readers read it again.
    window.setTimeout(() => {
      live.textContent = text;
    }, 50);
  }

  async function refreshCount() {
    try {
      const response = await fetch(unreadUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) setUnread((await response.json()).unread);
    } catch {
      // Offline: the next event or reconnect brings the count.
    }
  }

  async function loadPanel({ focus }) {
    const request = fetch(panelUrl, { credentials: "same-origin", headers: { Accept: "text/html" } });
    loading = request;
    let html = "";
    try {
      const response = await request;
      if (!response.ok) throw new Error(String(response.status));
      html = await response.text();
    } catch {
      html = '<p class="notifications-empty">Your notifications couldn\'t be loaded. <a href="/notifications/">Open the list</a>.</p>';
    }
    if (loading !== request || !open) return;
    const hadFocus = panel.contains(document.activeElement);
    panel.innerHTML = html;
    if (focus || hadFocus) panel.querySelector("h2")?.focus({ preventScroll: true });
  }

  // On a phone the panel spans the screen just below the button.
  function placePanel() {
    panel.style.setProperty("--panel-top", `${Math.round(button.getBoundingClientRect().bottom + 8)}px`);
  }
  window.addEventListener("resize", () => {
    if (open) placePanel();
  });

  function openPanel() {
    open = true;
    placePanel();
    button.setAttribute("aria-expanded", "true");
    panel.hidden = false;
    if (!panel.firstElementChild) panel.innerHTML = '<p class="notifications-empty">Loading…</p>';
    loadPanel({ focus: true });
  }

  function closePanel({ returnFocus }) {
    if (!open) return;
    open = false;
    button.setAttribute("aria-expanded", "false");
    panel.hidden = true;
    if (returnFocus) button.focus();
  }

  button.addEventListener("click", () => (open ? closePanel({ returnFocus: false }) : openPanel()));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && open && (panel.contains(document.activeElement) || document.activeElement === button)) {
      event.preventDefault();
      closePanel({ returnFocus: true });
    }
  });
  document.addEventListener("click", (event) => {
    if (open && !panel.contains(event.target) && !button.contains(event.target)) closePanel({ returnFocus: false });
  });

  // "Mark read" and "Mark all read" stay in the panel.
  panel.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("notification-read-form")) return;
    event.preventDefault();
    const submit = form.querySelector("button");
    if (submit) submit.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
        body: new FormData(form),
      });
      if (!response.ok) throw new Error(String(response.status));
      setUnread((await response.json()).unread);
      await loadPanel({ focus: true });
    } catch {
      if (submit) submit.disabled = false;
      announce("That couldn't be saved. Please try again.");
    }
  });

  const handlers = {
    "notification.new": (msg) => {
      setUnread(msg.unread);
      if (typeof msg.notification?.text === "string") announce(`New notification: ${msg.notification.text}`);
      if (open) loadPanel({ focus: false });
    },
    "notification.unread": (msg) => {
      setUnread(msg.unread);
      if (open) loadPanel({ focus: false });
    },
  };
  for (const [type, handler] of Object.entries(handlers)) rt.on(type, handler);
  let opened = false;
  rt.onState((state, detail = {}) => {
    if (state !== "open") return;
    // The page showed the count as of its rendering; a tab the server no
    // longer knew (or one back from the back/forward cache) reads it again.
    if (opened && !detail.resumed) refreshCount();
    opened = true;
  });
  return handlers;
}
