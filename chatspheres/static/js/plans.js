// "Plan a call": as a time is typed (a wall time in the member's own zone),
// say under it how it reads for the other person, before anything is sent.
// The zones and the name come from the form's data attributes. The server
// decides in the end (a time the clocks skip is refused there, with words);
// this is only the preview, and without it the form works the same.

function partsIn(zone, instant) {
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const parts = {};
  for (const { type, value } of format.formatToParts(instant)) parts[type] = Number(value);
  return parts;
}

// Minutes the zone is ahead of UTC at that instant.
function offsetMinutes(zone, instant) {
  const p = partsIn(zone, instant);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
  return Math.round((asUtc - Math.floor(instant.getTime() / 60000) * 60000) / 60000);
}

// The instant a wall time names in the zone, or null when the clocks skip it.
function wallToInstant(zone, wall) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(wall);
  if (!match) return null;
  const [year, month, day, hour, minute] = match.slice(1).map(Number);
  const naive = Date.UTC(year, month - 1, day, hour, minute);
  // Two tries settle the offset, the earlier reading first (the first of a doubled hour).
  const candidates = [];
  for (const guess of [naive - 14 * 3600_000, naive + 14 * 3600_000, naive]) {
    const instant = new Date(naive - offsetMinutes(zone, new Date(guess)) * 60000);
    const back = partsIn(zone, instant);
    if (back.year === year && back.month === month && back.day === day && back.hour === hour && back.minute === minute) {
      candidates.push(instant);
    }
  }
  if (!candidates.length) return null;
  return candidates.reduce((a, b) => (a < b ? a : b));
}

function label(zone, instant) {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).format(instant).replace(",", "");
}

export function startPlanForm(form) {
  const mine = form.dataset.myZone;
  const theirs = form.dataset.theirZone;
  const name = form.dataset.theirName;
  if (!mine || !theirs) return;
  for (const input of form.querySelectorAll("input[type=datetime-local]")) {
    const output = document.getElementById(`${input.id}-reads`);
    if (!output) continue;
    const show = () => {
      if (!input.value) { output.textContent = ""; return; }
      const instant = wallToInstant(mine, input.value);
      output.textContent = instant
        ? `${label(mine, instant)} for you · ${label(theirs, instant)} for ${name}`
        : "Your clocks skip this time when they change. Choose another.";
    };
    input.addEventListener("input", show);
    input.addEventListener("change", show);
    show();
  }
}

const form = document.querySelector("form.plan-form");
if (form) startPlanForm(form);
