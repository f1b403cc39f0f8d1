// Installed by the prompt benchmark after bench/marks.js (which stamps the socket's
// frames): the press on "Draw a prompt". Nothing here changes what the pages do.
(() => {
  // A capture listener: before the page's own handler.
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target instanceof Element ? event.target.closest("#prompt-draw") : null;
      if (button) window.__bench.mark("press");
    },
    true,
  );
})();
