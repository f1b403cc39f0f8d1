// Every page a signed-in member sees: the tab's one connection to the
// gateway (shared with the page's own modules through tabConnection()), the
// header's notifications, and the ringing card when a connection calls.
// Configuration comes from the #site-config data block in base.html.
import { startNotifications } from "./notifications.js";
import { tabConnection } from "./realtime.js";
import { startRinging } from "./ringing.js";

const configElement = document.getElementById("site-config");
const config = configElement ? JSON.parse(configElement.textContent) : {};
const rt = tabConnection({ path: config.wsPath || "/ws/" });

startNotifications(rt);
startRinging(rt, config);
