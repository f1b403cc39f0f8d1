// Installed by the browser benchmarks (page.add_init_script) before any page script,
// and before the benchmark's own instrument.js: timestamps on one clock shared by
// both browsers (performance.timeOrigin + performance.now(), wall-clock
// milliseconds). Nothing here changes what the pages do.
(() => {
  const clock = () => performance.timeOrigin + performance.now();
  const bench = { marks: {}, clock }; // the benchmark empties marks between runs
  window.__bench = bench;
  // The first occurrence of each named moment.
  bench.mark = (name, at = clock()) => {
    if (!(name in bench.marks)) bench.marks[name] = at;
  };
  document.addEventListener("DOMContentLoaded", () => bench.mark("dom.ready"));

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
      bench.mark("ws.connecting");
      this.addEventListener("open", () => bench.mark("ws.open"));
      this.addEventListener("message", (event) => bench.mark(`recv.${typeOf(event.data)}`));
    }
    send(data) {
      bench.mark(`send.${typeOf(data)}`);
      return super.send(data);
    }
  };
})();
