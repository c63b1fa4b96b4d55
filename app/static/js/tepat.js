// Tepat: small progressive enhancements. Every page works without them; no inline scripts
// (the Content-Security-Policy forbids them), so behaviour hangs on data- attributes.
"use strict";

// <button data-copy="#field" data-copied="Tersalin">: copy the field's value.
document.querySelectorAll("[data-copy]").forEach((button) => { button.hidden = false; });

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  field.select();
  const done = () => { button.textContent = button.dataset.copied || button.textContent; };
  const fallback = () => { document.execCommand("copy"); done(); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, fallback);
  } else {
    fallback();
  }
});

// <form data-confirm="Yakin?">: ask before submitting.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// A table that scrolls sideways must be reachable by keyboard (and so by screen readers).
document.querySelectorAll(".scroll").forEach((region) => {
  if (!region.hasAttribute("tabindex")) region.tabIndex = 0;
});
