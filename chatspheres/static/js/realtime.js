// One WebSocket per tab to the ChatSpheres gateway (see docs/protocol.md).
//
//   const rt = connect();                 // opens ws(s)://<host>/ws/
//   rt.on("sphere.presence", (msg) => …); // handlers by frame type ("*" gets every frame)
//   rt.onState((state, detail) => …);     // "connecting" | "open" | "reconnecting" | "closed"
//   rt.send({ type: "sphere.enter", sphere: 3 });
//
// The connection comes back by itself (with growing, jittered delays) after a
// network or server hiccup, but not when the server refused it on purpose:
// close code 1008 (policy, e.g. rate limit), 1009 (frame too big), or a
// handshake the server rejected (HTTP 403: signed out, foreign origin).

const NO_RECONNECT_CODES = new Set([1008, 1009]);
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
// A connection that stayed up this long counts as healthy: the next drop
// starts the back-off from the beginning again.
const HEALTHY_AFTER_MS = 10000;

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
    this.onOnline = () => {
      if (this.state === "reconnecting") this.reconnectNow();
    };
    window.addEventListener("online", this.onOnline);
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${this.path}`;
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
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

  /** Send one frame. Returns false (and sends nothing) while the socket is not open. */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  open() {
    this.stopped = false;
    this.clearRetry();
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
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
      this.setState("open", { attempt: this.attempt });
    });
    socket.addEventListener("message", (event) => this.dispatch(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
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

  reconnectNow() {
    if (this.stopped || this.isOpen) return;
    this.clearRetry();
    this.open();
  }

  // --- internals -------------------------------------------------------

  dispatch(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      console.warn("realtime: ignoring a frame that is not JSON");
      return;
    }
    if (message === null || typeof message !== "object" || typeof message.type !== "string") return;
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
    if (NO_RECONNECT_CODES.has(event.code)) {
      this.stop("refused", { code: event.code, closeReason: event.reason });
      return;
    }
    if (opened && Date.now() - this.openedAt > HEALTHY_AFTER_MS) this.attempt = 0;
    if (opened) {
      this.refusals = 0;
    } else if (await this.serverIsUp()) {
      // The handshake failed although the server answers HTTP: it refused us
      // (403: signed out or a foreign origin). Retrying would not help; try
      // once more only in case the server was just coming back up.
      this.refusals += 1;
      if (this.refusals >= 2) {
        this.stop("refused", { code: event.code, handshake: true });
        return;
      }
    }
    if (this.stopped) return;
    this.attempt += 1;
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.attempt - 1));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.setState("reconnecting", { attempt: this.attempt, delay, code: event.code });
    this.retryTimer = window.setTimeout(() => this.open(), delay);
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

/** Open the tab's connection to the gateway. */
export function connect(options = {}) {
  return new RealtimeConnection(options).open();
}
