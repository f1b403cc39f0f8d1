// Installed by the messages benchmark after bench/marks.js: the press on "Send message".
// Nothing here changes what the pages do.
(() => {
  // A capture listener: before the page's own handler.
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target instanceof Element ? event.target.closest("#compose button[type=submit]") : null;
      if (button) window.__bench.mark("press");
    },
    true,
  );
})();
