// Tepat gudang: packing a TPS kit. Each scan (a barcode gun types the label, then Enter) is
// posted as JSON to the page's endpoint, which records a "kemas" scan; the planned contents
// tick off in place and problems are shown in plain words. Without this script the same form
// posts normally and the page reloads.
"use strict";

(() => {
  const box = document.getElementById("kemas");
  const form = document.getElementById("kemas-form");
  if (!box || !form) return;
  const input = document.getElementById("kemas-label");
  const messages = document.getElementById("kemas-messages");
  const count = document.getElementById("kemas-count");
  const progress = document.getElementById("kemas-progress");
  const complete = document.getElementById("kemas-complete");
  const extra = document.getElementById("kemas-extra");
  const MAX_MESSAGES = 8;

  const say = (text, problem) => {
    const line = document.createElement("p");
    line.className = problem ? "alert" : "flash";
    line.textContent = text;
    messages.prepend(line);
    while (messages.children.length > MAX_MESSAGES) messages.lastElementChild.remove();
  };

  const cell = (text, code) => {
    const td = document.createElement("td");
    if (code) {
      const c = document.createElement("code");
      c.textContent = text;
      td.append(c);
    } else {
      td.textContent = text;
    }
    return td;
  };

  const showKit = (kit) => {
    kit.lines.forEach((line) => {
      const row = box.querySelector(`tr[data-serial="${line.serial}"]`);
      if (!row) return;
      row.classList.toggle("packed", line.packed);
      row.querySelector(".tick").textContent = line.packed ? "\u2713" : "\u00b7";
    });
    count.textContent = kit.packed;
    progress.max = kit.total || 1;
    progress.value = kit.packed;
    complete.hidden = !kit.complete;
    const body = extra.querySelector("tbody");
    body.replaceChildren(...kit.extra.map((line) => {
      const row = document.createElement("tr");
      row.append(cell(line.type_name), cell(line.race || "-"), cell(line.display, true), cell(line.note));
      return row;
    }));
    extra.hidden = kit.extra.length === 0;
  };

  const newId = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID() : null);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const label = input.value.trim();
    input.value = "";
    input.focus();
    if (!label) return;
    const body = { paket: box.dataset.kit, label };
    const id = newId();
    if (id) body.event_id = id;
    fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": box.dataset.csrf },
      body: JSON.stringify(body),
    })
      .then((response) => response.json().then((data) => ({ ok: response.ok, data })))
      .then(({ ok, data }) => {
        if (!ok) {
          say(data.message || String(data.error), true);
          return;
        }
        const who = data.serial ? `${data.serial}: ` : "";
        if (data.problems.length) data.problems.forEach((problem) => say(who + problem, true));
        else say(who + data.message, false);
        showKit(data.kit);
        if (data.kit.complete && data.status === "accepted") say(box.dataset.textComplete, false);
      })
      .catch(() => say(`${label.slice(0, 24)}\u2026: ${box.dataset.textFailed}`, true));
  });
})();
