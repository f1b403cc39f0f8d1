// Installed by the ring benchmark after bench/marks.js (which stamps the socket's
// frames): the press on "Call now". Nothing here changes what the pages do.
(() => {
  const bench = window.__bench;
  // Pressing "Call now" (a link to /call/<handle>/): the page is about to go,
  // so the moment is kept in sessionStorage for the call page to report.
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target instanceof Element ? event.target.closest("a[href^='/call/']") : null;
      if (link) sessionStorage.setItem("bench.press", String(bench.clock()));
    },
    true,
  );
  const pressed = sessionStorage.getItem("bench.press");
  if (pressed !== null && location.pathname.startsWith("/call/")) {
    bench.marks.press = Number(pressed);
    sessionStorage.removeItem("bench.press");
  }
})();
