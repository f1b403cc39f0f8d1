// The moderators' decision forms: choosing an action (or an appeal's answer)
// starts the "Statement of reasons" from that choice's standard words, unless
// the moderator has already written their own.

const templatesElement = document.getElementById("statement-templates");
const form = templatesElement?.closest("form");
const statement = form?.querySelector("textarea");

if (templatesElement && form && statement) {
  const templates = JSON.parse(templatesElement.textContent || "{}");
  const standard = new Set(Object.values(templates));
  const days = form.querySelector('input[name="days"]');
  const daysField = days?.closest(".field");

  const showDays = (choice) => {
    if (daysField) daysField.hidden = choice !== undefined && choice !== "suspend";
  };

  form.addEventListener("change", (event) => {
    const radio = event.target;
    if (!(radio instanceof HTMLInputElement) || radio.type !== "radio") return;
    const words = templates[radio.value];
    const untouched = statement.value.trim() === "" || standard.has(statement.value);
    if (words && untouched) statement.value = words;
    showDays(radio.value);
  });

  const checked = form.querySelector('input[type="radio"]:checked');
  if (days) showDays(checked ? checked.value : "suspend");
}
