// Planned calls that follow along: the plan page, People and a person's page
// fetch a plan's server-rendered part again when `plan.changed` arrives (the
// other accepted, offered times, cancelled...), say what changed in the
// page's status line (role="status", read politely by screen readers), and
// show "Join" when the plan's join window opens, hiding it when it closes,
// without a reload. The window comes from the server (data-join-opens and
// data-join-closes, UTC); the server still decides: a Join outside it is
// refused in words. Without JavaScript the pages are the same, only as of
// their last load.

import { tabConnection } from "./realtime.js";

// setTimeout cannot wait longer than about 24.8 days, and a long wait drifts
// from the wall clock (sleep, clock changes): wake at least this often.
const LONGEST_WAIT_MS = 6 * 3600_000;
// A server clock further than this from the device's is trusted instead.
const SKEW_IGNORED_MS = 2000;

const statusLine = document.getElementById("plans-status");
const list = document.querySelector("[data-plan-list]");
let skewMs = 0;
let timer = null;
const latestFetch = new Map();
const closedHandled = new Set();

function now() {
  return Date.now() + skewMs;
}

// The `Date` header of a fresh answer tells how far this device's clock is off.
function learnSkew(response, sentAt) {
  const told = Date.parse(response.headers.get("Date") || "");
  if (Number.isNaN(told)) return;
  const skew = told + 500 - (sentAt + Date.now()) / 2;
  skewMs = Math.abs(skew) > SKEW_IGNORED_MS ? skew : 0;
}

function say(words) {
  if (!statusLine || !words) return;
  // Emptied first, so the same words twice are read twice.
  statusLine.textContent = "";
  window.setTimeout(() => { statusLine.textContent = words; }, 50);
}

function planPart() {
  return document.getElementById("plan-part");
}

function itemOf(planId) {
  return list?.querySelector(`[data-plan="${CSS.escape(planId)}"]`) ?? null;
}

/** The fresh part (an element), null when it is gone from here (204, 404), undefined on failure. */
async function fetchPart(url, planId) {
  const token = (latestFetch.get(planId) || 0) + 1;
  latestFetch.set(planId, token);
  const sentAt = Date.now();
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } });
  } catch {
    return undefined;
  }
  // An older answer arriving after a newer one changes nothing.
  if (latestFetch.get(planId) !== token) return undefined;
  learnSkew(response, sentAt);
  if (response.status === 204 || response.status === 404) return null;
  if (!response.ok || response.redirected) return undefined;
  const template = document.createElement("template");
  template.innerHTML = (await response.text()).trim();
  const element = template.content.firstElementChild;
  if (latestFetch.get(planId) !== token) return undefined;
  return element?.dataset.plan === planId ? element : undefined;
}

function withQuery(url, where) {
  return `${url}${url.includes("?") ? "&" : "?"}as=${where}`;
}

async function refreshPage(planId) {
  const part = planPart();
  if (!part || part.dataset.plan !== planId) return false;
  const fresh = await fetchPart(withQuery(part.dataset.partUrl, "page"), planId);
  if (!fresh) return false;
  const current = planPart();
  if (!current) return false;
  const hadFocus = current.contains(document.activeElement);
  current.replaceWith(fresh);
  // The button pressed may be gone: focus stays in the part rather than falling to the page.
  if (hadFocus) fresh.focus();
  return true;
}

function placeItem(fresh) {
  const rows = list.querySelector(".plan-list");
  const key = fresh.dataset.sort || "~";
  const after = [...rows.children].find((row) => (row.dataset.sort || "~") > key);
  rows.insertBefore(fresh, after ?? null);
}

async function refreshItem(planId, withHandle) {
  if (!list) return false;
  const where = list.dataset.planList;
  if (where === "person" && list.dataset.with !== withHandle) return false;
  const existing = itemOf(planId);
  const url = existing?.dataset.partUrl
    ?? list.dataset.partUrl.replace("HANDLE", encodeURIComponent(withHandle)).replace("PLAN", encodeURIComponent(planId));
  const fresh = await fetchPart(withQuery(url, where), planId);
  if (fresh === undefined) return false;
  const current = itemOf(planId);
  if (fresh === null) {
    if (!current) return false;
    current.remove();
  } else if (current) {
    current.replaceWith(fresh);
  } else {
    placeItem(fresh);
  }
  list.hidden = list.querySelector(".plan-list").children.length === 0;
  return true;
}

async function refresh(planId, withHandle) {
  const [page, item] = await Promise.all([refreshPage(planId), refreshItem(planId, withHandle)]);
  armJoinTimer();
  return page || item;
}

function refreshAll() {
  const part = planPart();
  if (part) refresh(part.dataset.plan, part.dataset.with);
  for (const row of list?.querySelectorAll("[data-plan]") ?? []) refresh(row.dataset.plan, row.dataset.with);
}

// Show or hide each Join by the clock, then wait for the next edge of any window.
function armJoinTimer() {
  window.clearTimeout(timer);
  timer = null;
  const at = now();
  let next = Infinity;
  for (const plan of document.querySelectorAll("[data-join-opens]")) {
    const opens = Date.parse(plan.dataset.joinOpens);
    const closes = Date.parse(plan.dataset.joinCloses);
    if (Number.isNaN(opens) || Number.isNaN(closes)) continue;
    const open = opens <= at && at <= closes;
    const join = plan.querySelector(".plan-join");
    const hint = plan.querySelector(".plan-join-hint");
    if (join && join.hidden === open) {
      join.hidden = !open;
      if (open) say(`It's time for your call with ${plan.dataset.withName}: Join is here.`);
    }
    if (hint) hint.hidden = at >= opens;
    if (at > closes && !closedHandled.has(plan.dataset.plan)) {
      // Past the window the server settles the plan (kept or missed): read it again, once.
      closedHandled.add(plan.dataset.plan);
      refresh(plan.dataset.plan, plan.dataset.with);
    }
    for (const edge of [opens, closes + 1]) if (edge > at) next = Math.min(next, edge);
  }
  if (next !== Infinity) timer = window.setTimeout(armJoinTimer, Math.min(next - at, LONGEST_WAIT_MS));
}

async function onPlanChanged(message) {
  const changed = await refresh(message.plan, message.with_handle);
  if (changed) say(message.words);
}

if (planPart() || list) {
  const rt = tabConnection();
  rt.on("plan.changed", onPlanChanged);
  // Too long away for the server to replay what was missed: read the plans again.
  rt.on("resync", refreshAll);
  rt.onState((state, detail) => {
    if (state === "open" && detail.reconnected && !detail.resumed) refreshAll();
  });
  // Timers sleep with the device and slow down in hidden tabs: look at the clock again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") armJoinTimer();
  });
  window.addEventListener("focus", armJoinTimer);
  window.addEventListener("online", armJoinTimer);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) refreshAll();
    armJoinTimer();
  });
  armJoinTimer();
}
