// The ringing card: a connection pressed "Call now" and every open tab of
// this member, on any page, shows "<name> wants to talk" with Accept and
// Decline until the ring stops (ring.stopped: answered in another tab,
// declined, cancelled by the caller, or not answered in time).
//
// Accept opens the answering call page (config.answerUrl), whose tab starts
// the call; Decline (or Escape) tells the caller "<name> can't talk right now".
// The card is an alertdialog: focus moves to it and stays in it while it
// rings, and returns where it was afterwards.

const TOAST_MS = 6_000;

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

/** Show incoming rings on this page; returns the frame handlers by type. */
export function startRinging(rt, config) {
  const rings = new Map(); // ring id -> { card, returnFocus }
  const answerUrl = typeof config.answerUrl === "string" ? config.answerUrl : "";

  function toast(text) {
    if (!text) return;
    const note = element("p", { class: "ring-toast", role: "status" }, text);
    document.body.append(note);
    window.setTimeout(() => note.remove(), TOAST_MS);
  }

  function remove(ringId) {
    const shown = rings.get(ringId);
    if (!shown) return;
    rings.delete(ringId);
    const hadFocus = shown.card.contains(document.activeElement);
    shown.card.remove();
    if (hadFocus && shown.returnFocus instanceof HTMLElement && shown.returnFocus.isConnected) {
      shown.returnFocus.focus({ preventScroll: true });
    }
  }

  function decline(ringId) {
    rt.send({ type: "ring.decline", ring: ringId });
    remove(ringId);
  }

  function accept(ringId) {
    const shown = rings.get(ringId);
    if (shown) for (const control of shown.card.querySelectorAll("button")) control.disabled = true;
    window.location.assign(answerUrl.replace("__ring__", encodeURIComponent(ringId)));
  }

  // The page answering a ring does not ring for it (it is opening that call).
  const callConfig = document.getElementById("call-config");
  const answering = callConfig ? JSON.parse(callConfig.textContent).direct?.ring : undefined;

  function show(msg) {
    if (typeof msg.ring !== "string" || rings.has(msg.ring) || msg.ring === answering) return;
    const name = msg.caller?.name || "Someone";
    const titleId = `ring-title-${rings.size}-${Date.now()}`;
    const detailId = `${titleId}-detail`;
    const acceptButton = element("button", { type: "button", class: "button button-primary ring-accept" }, "Accept");
    const declineButton = element("button", { type: "button", class: "button ring-decline" }, "Decline");
    const where = msg.sphere ? ` You last met in ${msg.sphere}.` : "";
    const card = element(
      "section",
      { class: "ring-card", role: "alertdialog", "aria-modal": "true", "aria-labelledby": titleId, "aria-describedby": detailId, "data-ring": msg.ring },
      element("span", { class: "ring-pulse", "aria-hidden": "true" }, name.trim().charAt(0).toUpperCase()),
      element("div", { class: "ring-body" },
        element("h2", { id: titleId, class: "ring-title" }, `${name} wants to talk`),
        element("p", { id: detailId, class: "ring-detail" }, `A video call, right now.${where}`),
        element("div", { class: "ring-actions" }, acceptButton, declineButton),
      ),
    );
    acceptButton.addEventListener("click", () => accept(msg.ring));
    declineButton.addEventListener("click", () => decline(msg.ring));
    card.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        decline(msg.ring);
      } else if (event.key === "Tab") {
        // Focus stays on the card while it rings.
        const first = acceptButton;
        const last = declineButton;
        if (event.shiftKey && document.activeElement === first) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && document.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      }
    });
    rings.set(msg.ring, { card, returnFocus: document.activeElement });
    document.body.append(card);
    acceptButton.focus({ preventScroll: true });
    // When the card was first painted, for measuring how fast a ring arrives.
    window.requestAnimationFrame(() => {
      card.dataset.paintedAt = String(performance.timeOrigin + performance.now());
    });
  }

  const handlers = {
    "ring.incoming": show,
    "ring.stopped": (msg) => {
      const wasShown = rings.has(msg.ring);
      remove(msg.ring);
      if (wasShown && typeof msg.message === "string") toast(msg.message);
    },
  };
  for (const [type, handler] of Object.entries(handlers)) rt.on(type, handler);
  return handlers;
}
