// Fill the hidden time zone field at sign-up with the browser's own zone, so
// times are shown in the member's local time from the first page on.
const field = document.querySelector('input[name="time_zone"]');
if (field && !field.value) {
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    field.value = "";
  }
}
