// Tepat desk: apply the findings filters as soon as one changes (the button stays for
// keyboards and for browsers without scripts).
"use strict";

document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
  form.addEventListener("change", () => form.requestSubmit ? form.requestSubmit() : form.submit());
});

// The progress chart is wider than a phone: open it on the latest hours, not the empty first days.
document.querySelectorAll(".chart-card .scroll").forEach((box) => {
  box.scrollLeft = box.scrollWidth;
});
