// Installed by the prompt benchmark (page.add_init_script) before any page script:
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

  // The press on "Draw a prompt" (capture phase: before the page's own handler).
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target instanceof Element ? event.target.closest("#prompt-draw") : null;
      if (button) mark("press");
    },
    true,
  );

  // When each frame type first went out or came in, per run.
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
      this.addEventListener("message", (event) => mark(`recv.${typeOf(event.data)}`));
    }
    send(data) {
      mark(`send.${typeOf(data)}`);
      return super.send(data);
    }
  };
})();
