// Installed by the ring benchmark (page.add_init_script) before any page script:
// timestamps on one clock shared by both browsers (performance.timeOrigin +
// performance.now(), wall-clock milliseconds). Nothing here changes what the
// pages do.
(() => {
  const clock = () => performance.timeOrigin + performance.now();
  const bench = { marks: {} }; // the benchmark empties marks between runs
  window.__bench = bench;
  const mark = (name, at = clock()) => {
    if (!(name in bench.marks)) bench.marks[name] = at;
  };
  bench.mark = mark;

  // Pressing "Call now" (a link to /call/<handle>/): the page is about to go,
  // so the moment is kept in sessionStorage for the call page to report.
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target instanceof Element ? event.target.closest("a[href^='/call/']") : null;
      if (link) sessionStorage.setItem("bench.press", String(clock()));
    },
    true,
  );
  const pressed = sessionStorage.getItem("bench.press");
  if (pressed !== null && location.pathname.startsWith("/call/")) {
    bench.marks.press = Number(pressed);
    sessionStorage.removeItem("bench.press");
  }
  document.addEventListener("DOMContentLoaded", () => mark("dom.ready"));

  // The socket: when it opened, and when each frame type first went out or came in.
  const NativeWebSocket = window.WebSocket;
  const typeOf = (raw) => {
    try {
      return String(JSON.parse(raw).type);
    } catch {
      return "non-json";
    }
  };
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      mark("ws.connecting");
      this.addEventListener("open", () => mark("ws.open"));
      this.addEventListener("message", (event) => mark(`recv.${typeOf(event.data)}`));
    }
    send(data) {
      mark(`send.${typeOf(data)}`);
      return super.send(data);
    }
  };
})();
