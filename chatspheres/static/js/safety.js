// Block and Report, wherever a person appears. Without JavaScript the two
// buttons are plain forms that lead to a confirm page and a report page;
// here they open dialogs instead. On other pages the confirmed block posts as
// a plain form (the page comes back with the words); on the call page it is
// sent with fetch so the page stays: the server ends the call, and this page
// shows the reflection as after any ending. A report is always sent with
// fetch, and the dialog says at once what happens next.

const byId = (id) => document.getElementById(id);
const blockDialog = byId("block-dialog");
const reportDialog = byId("report-dialog");

// The person the call page's buttons are about (the partner of this call or
// of the call that just ended), set by call.js.
let callPerson = null;
// Where the call page's buttons send: the addresses with a placeholder handle.
const callSafety = byId("call-safety-config");

function csrfToken(form) {
  const field = form.querySelector("input[name=csrfmiddlewaretoken]");
  if (field?.value) return field.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function setNames(dialog, name) {
  for (const el of dialog.querySelectorAll("[data-safety-name]")) el.textContent = name;
}

function setStatus(dialog, words) {
  const status = dialog.querySelector("[data-safety-status]");
  if (status) status.textContent = words;
}

function setHidden(form, name, value) {
  let input = form.querySelector(`input[type=hidden][name=${name}]`);
  if (!input) {
    input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    form.append(input);
  }
  input.value = value;
}

/** Open the block or report dialog for one person: `{ kind, url, name, conversation, next, inCall }`. */
function openDialog({ kind, url, name, conversation = "", next = "", inCall = false }) {
  const dialog = kind === "block" ? blockDialog : reportDialog;
  if (!dialog) return false;
  const form = dialog.querySelector("form");
  form.action = url;
  form.dataset.inCall = inCall ? "1" : "";
  form.dataset.name = name;
  form.dataset.next = next;
  setHidden(form, "next", next);
  setNames(dialog, name);
  setStatus(dialog, "");
  if (kind === "report") {
    form.reset();
    const field = form.querySelector("[data-safety-conversation]");
    if (field) field.value = conversation;
    form.hidden = false;
    dialog.querySelector("[data-safety-done]").hidden = true;
  }
  for (const button of form.querySelectorAll("button")) button.disabled = false;
  dialog.showModal();
  const first = kind === "report" ? form.querySelector("input[type=radio]") : form.querySelector("button[type=submit]");
  first?.focus();
  return true;
}

async function post(form) {
  try {
    const response = await fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
      body: new FormData(form),
    });
    const data = await response.json().catch(() => ({}));
    return { ok: response.ok, data };
  } catch {
    return { ok: false, data: {} };
  }
}

/** What the call page shows once its partner is blocked: no more keeping in touch with them. */
function showBlockedInCall(words) {
  const status = byId("reflection-safety-status");
  if (status) status.textContent = words;
  const extras = byId("reflection-extras");
  if (extras) extras.hidden = true;
  for (const id of ["call-safety", "reflection-safety"]) {
    const group = byId(id);
    if (group) group.hidden = true;
  }
  if (callPerson) callPerson.blocked = true;
}

async function submitBlock(event) {
  const form = event.target;
  if (!form.dataset.inCall) return; // a plain post: the page comes back with the words
  event.preventDefault();
  const buttons = form.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  const { ok, data } = await post(form);
  for (const button of buttons) button.disabled = false;
  if (!ok) {
    setStatus(blockDialog, data.message || "That didn't work. Please try again.");
    return;
  }
  blockDialog.close();
  showBlockedInCall(data.message || `You blocked ${form.dataset.name}.`);
}

async function submitReport(event) {
  event.preventDefault();
  const form = event.target;
  if (!form.querySelector("input[name=reason]:checked")) {
    setStatus(reportDialog, "Choose what the report is about.");
    form.querySelector("input[name=reason]")?.focus();
    return;
  }
  const buttons = form.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  const { ok, data } = await post(form);
  for (const button of buttons) button.disabled = false;
  if (!ok) {
    setStatus(reportDialog, data.message || "Your report couldn't be sent. Please try again.");
    return;
  }
  const done = reportDialog.querySelector("[data-safety-done]");
  form.hidden = true;
  done.hidden = false;
  const ack = done.querySelector("[data-safety-ack]");
  ack.textContent = data.message;
  const blocked = done.querySelector("[data-safety-blocked]");
  blocked.hidden = !data.blocked;
  blocked.textContent = data.blocked_message || "";
  ack.focus();
  if (data.blocked) {
    if (form.dataset.inCall) showBlockedInCall(data.blocked_message);
    else reportDialog.dataset.leaveTo = form.dataset.next || window.location.href;
  }
}

function closeDialog(dialog) {
  dialog.close();
  // A person blocked from a report is gone from this page: show it without them.
  const leaveTo = dialog.dataset.leaveTo;
  if (leaveTo) {
    delete dialog.dataset.leaveTo;
    window.location.assign(leaveTo);
  }
}

// ---------------------------------------------------------------- the call page

function callUrl(kind, handle) {
  const template = callSafety?.dataset[kind === "block" ? "blockUrl" : "reportUrl"] || "";
  return template.replace("__handle__", encodeURIComponent(handle));
}

/** call.js: the person this call (or the call that just ended) is with. */
export function safetyPerson({ handle, name, conversation }) {
  callPerson = handle ? { handle, name: name || "them", conversation: conversation || "", blocked: false } : null;
  const status = byId("reflection-safety-status");
  if (status) status.textContent = "";
  for (const id of ["call-safety", "reflection-safety"]) {
    const group = byId(id);
    if (group) group.hidden = !callPerson;
  }
  for (const el of document.querySelectorAll("[data-safety-person]")) el.textContent = callPerson?.name ?? "";
}

function openForCall(kind) {
  if (!callPerson || callPerson.blocked) return;
  openDialog({
    kind,
    url: callUrl(kind, callPerson.handle),
    name: callPerson.name,
    conversation: callPerson.conversation,
    inCall: true,
  });
}

// ---------------------------------------------------------------- wiring

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  if (form.dataset.safety) {
    // A Block or Report button on a page: the dialog instead of the page.
    const kind = form.dataset.safety;
    const opened = openDialog({
      kind,
      url: form.action,
      name: form.dataset.name || "them",
      conversation: form.dataset.conversation || "",
      next: form.querySelector("input[name=next]")?.value || window.location.pathname + window.location.search,
    });
    if (opened) event.preventDefault();
  } else if (form.dataset.safetyForm === "block") submitBlock(event);
  else if (form.dataset.safetyForm === "report") submitReport(event);
});

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const closer = target?.closest("[data-safety-close]");
  if (closer) {
    closeDialog(closer.closest("dialog"));
    return;
  }
  const callButton = target?.closest("[data-safety-call]");
  if (callButton) openForCall(callButton.dataset.safetyCall);
});

reportDialog?.addEventListener("close", () => {
  const leaveTo = reportDialog.dataset.leaveTo;
  if (leaveTo) {
    delete reportDialog.dataset.leaveTo;
    window.location.assign(leaveTo);
  }
});
