// Sphere page: count this tab as online in the sphere and keep the
// "online" / "waiting" numbers fresh from sphere.presence frames.
import { connect } from "./realtime.js";

const main = document.querySelector("main[data-sphere-id]");
const sphereId = main ? Number.parseInt(main.dataset.sphereId, 10) : Number.NaN;
const online = document.getElementById("online-count");
const waiting = document.getElementById("waiting-count");

// Counts shown to a member leave them out; this page never waits itself, so
// everyone the sphere counts as waiting is someone else.
function waitingWords(others) {
  if (others === 0) return "No one else is waiting yet";
  return others === 1 ? "1 other person waiting" : `${others} other people waiting`;
}

function start() {
  const rt = connect();
  rt.onState((state) => {
    if (state === "open") rt.send({ type: "sphere.enter", sphere: sphereId });
  });
  rt.on("sphere.presence", (msg) => {
    if (msg.sphere !== sphereId) return;
    if (online && Number.isInteger(msg.online)) online.textContent = String(msg.online);
    if (waiting && Number.isInteger(msg.waiting)) waiting.textContent = waitingWords(Math.max(0, msg.waiting));
  });
  return rt;
}

if (Number.isInteger(sphereId)) {
  let rt = start();
  // Leave cleanly so the counts drop at once; come back if the page is
  // restored from the back/forward cache.
  window.addEventListener("pagehide", () => rt.close(1000, "page hidden"));
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) rt = start();
  });
}
