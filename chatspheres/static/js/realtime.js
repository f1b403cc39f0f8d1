// One WebSocket per tab to the ChatSpheres gateway (see docs/protocol.md).
//
//   const rt = tabConnection();           // the page's one connection, shared by its modules
//   const rt = connect();                 // a connection of its own (tests, tools): ws(s)://<host>/ws/
//   rt.on("sphere.presence", (msg) => …); // handlers by frame type ("*" gets every frame)
//   rt.onState((state, detail) => …);     // "connecting" | "open" | "reconnecting" | "closed"
//   rt.send({ type: "sphere.enter", sphere: 3 });  // false (nothing sent) unless "open"
//   rt.close();                           // for good: no reconnect
//
// Every signed-in page opens one connection (site.js, loaded by base.html)
// and every module of the page uses it through tabConnection(): the header's
// notifications, the ringing card, the sphere's counts and the call. It closes
// cleanly (1000) when the page goes away, so the server ends the tab at once,
// and opens again as a new tab if the page comes back from the back/forward cache.
//
// States, and what `detail` holds:
//   connecting    the first socket is on its way
//   open          the server said `ready`: { resumed, reconnected, tab, lastEventId }.
//                 `reconnected` is true after a drop; then `resumed` says whether the
//                 server still knew this tab (and replays what it missed right after)
//                 or not (a new tab: whatever the page was part of, e.g. a call, is gone).
//                 The `ready` frame itself then goes to the "ready" handlers as usual.
//   reconnecting  the socket dropped; the next try is in `delay` ms
//                 ({ attempt, delay, code, closeReason }). Before the first `ready`,
//                 failed tries report "connecting" with the same detail.
//   closed        no more tries: { reason, code, closeReason } with reason one of
//                 "client" (close() was called), "signed-out" (4001), "too-many-tabs" (4003),
//                 "replaced" (4002 on the live socket), "refused" (1008, 1009, or a
//                 handshake the server keeps refusing), "unsupported".
//                 `closeReason` is the server's words, meant for people.
//
// Resuming: the tab id from `ready` and the highest event `id` seen so far go
// with every reconnect (`?tab=…&last_event_id=…`). A frame whose `id` is not
// above the last one seen (a replay overlapping what already arrived) is
// dropped before any handler sees it. `resync` (too long away to replay) and
// the frames after it reach the handlers: the page reloads what it shows.
//
// Reconnecting waits 0.25–0.5 s, then doubles (with jitter) up to about 10 s;
// 1012 (server restarting) is retried after 0.3–0.6 s, 4029 (too many attempts)
// only after one to two minutes; the browser coming back online retries at once.

const CLOSE = {
  SESSION_ENDED: 4001,
  REPLACED: 4002,
  TOO_MANY_TABS: 4003,
  TOO_MANY_ATTEMPTS: 4029,
  SERVICE_RESTART: 1012,
};
const REFUSED_CODES = new Set([1008, 1009]);
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
const RESTART_DELAY_MS = 300;
const TOO_MANY_ATTEMPTS_DELAY_MS = 60_000;
// A connection that stayed up this long counts as healthy: the next drop
// starts the back-off from the beginning again.
const HEALTHY_AFTER_MS = 10_000;

/** A delay between half and all of `base` ms (jitter spreads a crowd of reconnecting tabs). */
function jittered(base) {
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export class RealtimeConnection {
  constructor({ path = "/ws/" } = {}) {
    this.path = path;
    this.state = "idle";
    this.socket = null;
    this.handlers = new Map();
    this.stateHandlers = new Set();
    this.attempt = 0;
    this.retryTimer = null;
    this.openedAt = 0;
    this.refusals = 0;
    this.stopped = false;
    // What the server told us in `ready`, and the newest event id seen.
    this.tab = null;
    this.lastEventId = 0;
    this.resumed = false;
    this.everReady = false;
    this.onOnline = () => {
      if (this.state === "reconnecting") this.reconnectNow();
    };
    window.addEventListener("online", this.onOnline);
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${window.location.host}${this.path}`;
    if (this.tab) {
      const query = new URLSearchParams({ tab: this.tab, last_event_id: String(this.lastEventId) });
      url += `?${query}`;
    }
    return url;
  }

  /** Whether frames can be sent now (the server has said `ready`). */
  get isOpen() {
    return this.state === "open" && this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** Register a handler for frames of one type; returns a function that removes it. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  /** Register a connection-state callback; it is called at once with the current state. */
  onState(fn) {
    this.stateHandlers.add(fn);
    fn(this.state, {});
    return () => this.stateHandlers.delete(fn);
  }

  /** Send one frame. Returns false (and sends nothing) unless the connection is open. */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  open() {
    this.stopped = false;
    this.clearRetry();
    if (this.state === "idle" || this.state === "closed") {
      this.setState("connecting", { attempt: this.attempt });
    }
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.stop("unsupported", { error });
      return this;
    }
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      this.openedAt = Date.now();
    });
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.receive(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return; // an older socket: already replaced
      this.socket = null;
      this.handleClose(event, opened);
    });
    return this;
  }

  /** Close for good (no reconnect). */
  close(code = 1000, reason = "") {
    this.stopped = true;
    this.clearRetry();
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(code, reason);
    window.removeEventListener("online", this.onOnline);
    this.setState("closed", { reason: "client" });
  }

  /** Open again, as a new tab, after close() (the page came back from the back/forward cache). */
  restart() {
    if (!this.stopped) return this;
    Object.assign(this, { tab: null, lastEventId: 0, resumed: false, everReady: false, attempt: 0, refusals: 0 });
    this.state = "idle";
    window.addEventListener("online", this.onOnline);
    return this.open();
  }

  /** Try again now instead of waiting for the next scheduled try. */
  reconnectNow() {
    if (this.stopped || this.socket !== null) return;
    this.clearRetry();
    this.open();
  }

  // --- internals -------------------------------------------------------

  receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      console.warn("realtime: ignoring a frame that is not JSON");
      return;
    }
    if (message === null || typeof message !== "object" || typeof message.type !== "string") return;
    if (Number.isSafeInteger(message.id)) {
      if (message.id <= this.lastEventId) return; // seen already (a replay overlap)
      this.lastEventId = message.id;
    }
    if (message.type === "ready") this.ready(message);
    this.dispatch(message);
  }

  ready(message) {
    const reconnected = this.everReady;
    const resumed = message.resumed === true && message.tab === this.tab;
    if (typeof message.tab === "string") this.tab = message.tab;
    if (!resumed && Number.isSafeInteger(message.last_event_id)) {
      // A new tab: only events after this one are ours.
      this.lastEventId = message.last_event_id;
    }
    this.resumed = resumed;
    this.everReady = true;
    this.refusals = 0;
    this.setState("open", { resumed, reconnected, tab: this.tab, lastEventId: this.lastEventId });
  }

  dispatch(message) {
    for (const key of [message.type, "*"]) {
      const set = this.handlers.get(key);
      if (!set) continue;
      for (const fn of [...set]) {
        try {
          fn(message);
        } catch (error) {
          console.error(`realtime: handler for "${message.type}" failed`, error);
        }
      }
    }
  }

  async handleClose(event, opened) {
    if (this.stopped) return;
    const detail = { code: event.code, closeReason: event.reason || "" };
    switch (event.code) {
      case CLOSE.SESSION_ENDED:
        this.stop("signed-out", detail);
        return;
      case CLOSE.TOO_MANY_TABS:
        this.stop("too-many-tabs", detail);
        return;
      case CLOSE.REPLACED:
        // Another socket of this same tab took over; fighting it would only
        // have the two replace each other in turn.
        this.stop("replaced", detail);
        return;
      case CLOSE.TOO_MANY_ATTEMPTS:
        this.retry(jittered(TOO_MANY_ATTEMPTS_DELAY_MS * 2), detail);
        return;
      case CLOSE.SERVICE_RESTART:
        this.attempt = 0;
        this.retry(jittered(RESTART_DELAY_MS * 2), detail);
        return;
      default:
        break;
    }
    if (REFUSED_CODES.has(event.code)) {
      this.stop("refused", detail);
      return;
    }
    if (opened && Date.now() - this.openedAt > HEALTHY_AFTER_MS) this.attempt = 0;
    if (!opened && (await this.serverIsUp())) {
      // The handshake failed although the server answers HTTP: it refused us
      // (403: signed out or a foreign origin). Retrying would not help; try
      // once more only in case the server was just coming back up.
      this.refusals += 1;
      if (this.refusals >= 2) {
        this.stop("refused", { ...detail, handshake: true });
        return;
      }
    }
    if (this.stopped) return;
    this.attempt += 1;
    this.retry(jittered(Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.attempt - 1))), detail);
  }

  retry(delay, detail) {
    this.clearRetry();
    // Until the server has said `ready` once, the page is still connecting.
    this.setState(this.everReady ? "reconnecting" : "connecting", { attempt: this.attempt, delay, ...detail });
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  // Browsers hide why a WebSocket handshake failed (a refusal and an
  // unreachable server both look like code 1006), so ask the server over HTTP.
  async serverIsUp() {
    try {
      await fetch(window.location.href, {
        method: "HEAD",
        cache: "no-store",
        credentials: "same-origin",
        redirect: "manual",
      });
      return true;
    } catch {
      return false;
    }
  }

  stop(reason, detail) {
    this.stopped = true;
    this.clearRetry();
    window.removeEventListener("online", this.onOnline);
    this.setState("closed", { reason, ...detail });
  }

  clearRetry() {
    if (this.retryTimer !== null) {
      window.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  setState(state, detail) {
    this.state = state;
    for (const fn of [...this.stateHandlers]) {
      try {
        fn(state, detail);
      } catch (error) {
        console.error("realtime: state handler failed", error);
      }
    }
  }
}

/** Open a connection to the gateway of its own. Pages use tabConnection() instead. */
export function connect(options = {}) {
  return new RealtimeConnection(options).open();
}

let pageConnection = null;

/**
 * The page's one connection, opened by the first module that asks (with its
 * options) and shared by all of them afterwards.
 */
export function tabConnection(options = {}) {
  if (pageConnection === null) {
    const rt = connect(options);
    pageConnection = rt;
    // Leave cleanly: the server ends the tab (and a call it was in) at once.
    window.addEventListener("pagehide", () => rt.close(1000, "page closed"));
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) rt.restart();
    });
  }
  return pageConnection;
}
