// Sphere page: count this tab as online in the sphere and keep the
// "online" / "waiting" numbers fresh from sphere.presence frames. The
// connection is the page's one (opened by site.js).
import { tabConnection } from "./realtime.js";

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

if (Number.isInteger(sphereId)) {
  const rt = tabConnection();
  // Every time the connection opens (again), say where it looks: a socket
  // that dropped stopped counting there, even if its tab resumes.
  rt.onState((state) => {
    if (state === "open") rt.send({ type: "sphere.enter", sphere: sphereId });
  });
  rt.on("sphere.presence", (msg) => {
    if (msg.sphere !== sphereId) return;
    if (online && Number.isInteger(msg.online)) online.textContent = String(msg.online);
    if (waiting && Number.isInteger(msg.waiting)) waiting.textContent = waitingWords(Math.max(0, msg.waiting));
  });
}
