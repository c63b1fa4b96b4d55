// Tepat gudang: packing a TPS kit. Each scan (a barcode gun types the label, then Enter; or
// the camera, or a photo, read in the page by TepatScan) is posted as JSON to the page's
// endpoint, which records a "kemas" scan; the planned contents tick off in place and the
// answer shows next to the input, OK / PERHATIAN / TOLAK with a beep. A signed label is
// checked here first (signature, and whether it belongs to this kit's TPS), so a wrong item
// is caught at once. An item can be taken out again (with a reason). Without this script
// the same form posts normally and the page reloads.
"use strict";

(() => {
  const box = document.getElementById("kemas");
  const form = document.getElementById("kemas-form");
  if (!box || !form) return;
  const scan = window.TepatScan;
  const words = box.dataset;
  const $ = (id) => document.getElementById(id);
  const input = $("kemas-label");
  const answer = $("kemas-answer");
  const messages = $("kemas-messages");
  const count = $("kemas-count");
  const progress = $("kemas-progress");
  const complete = $("kemas-complete");
  const extra = $("kemas-extra");
  const MAX_MESSAGES = 8;
  const KEYS = "tepat.keys";
  let keyset = scan.cached(KEYS);
  scan.fetchCached(words.keysUrl, KEYS).then((fresh) => { keyset = fresh || keyset; });

  const say = (text, problem) => {
    const line = document.createElement("p");
    line.className = problem ? "alert" : "flash";
    line.textContent = text;
    messages.prepend(line);
    while (messages.children.length > MAX_MESSAGES) messages.lastElementChild.remove();
  };

  let lastSignal = {kind: "", at: 0};
  /** The answer to one scan, where the packer is looking, in colour, with a beep. */
  const show = (kind, what, lines) => {
    answer.className = "result " + kind;
    const title = document.createElement("p");
    title.className = "result-title";
    title.textContent = words[kind] || kind;
    const parts = [title];
    if (what) {
      const p = document.createElement("p");
      p.className = "result-what";
      p.textContent = what;
      parts.push(p);
    }
    if (lines.length) {
      const list = document.createElement("ul");
      list.className = "result-lines";
      lines.forEach((text) => {
        const li = document.createElement("li");
        li.textContent = text;
        list.append(li);
      });
      parts.push(list);
    }
    answer.replaceChildren(...parts);
    if (kind !== lastSignal.kind || Date.now() - lastSignal.at > 3000) scan.signal(kind);
    lastSignal = {kind, at: Date.now()};
    scan.bringIntoView(answer, $("kemas-camera").hidden ? form : $("kemas-camera"));
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

  const takeOutButton = (serial) => {
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small secondary take-out";
    button.dataset.serial = serial;
    button.textContent = words.takeOut || "Keluarkan";
    td.append(button);
    return td;
  };

  const showKit = (kit) => {
    kit.lines.forEach((line) => {
      const row = box.querySelector(`tr[data-serial="${line.serial}"]`);
      if (!row) return;
      row.classList.toggle("packed", line.packed);
      row.querySelector(".tick").textContent = line.packed ? "\u2713" : "\u00b7";
      const takeOut = row.querySelector(".take-out");
      if (takeOut) takeOut.hidden = !line.packed;
    });
    count.textContent = kit.packed;
    progress.max = kit.total || 1;
    progress.value = kit.packed;
    complete.hidden = !kit.complete;
    const body = extra.querySelector("tbody");
    body.replaceChildren(...kit.extra.map((line) => {
      const row = document.createElement("tr");
      row.dataset.serial = line.serial;
      row.append(cell(line.type_name), cell(line.race || "-"), cell(line.display, true), cell(line.note),
                 takeOutButton(line.serial));
      return row;
    }));
    extra.hidden = kit.extra.length === 0;
  };

  const newId = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID() : null);

  const post = (url, body, label) => {
    const id = newId();
    if (id) body.event_id = id;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": words.csrf},
      body: JSON.stringify(body),
    })
      .then((response) => response.json().then((data) => ({ok: response.ok, data})))
      .then(({ok, data}) => {
        if (!ok) {
          show("critical", label, [data.message || String(data.error)]);
          return;
        }
        const who = data.serial ? `${data.serial}: ` : "";
        const severity = data.severity || (data.problems.length ? "critical" : "ok");
        show(severity, who + data.message, data.problems.filter((p) => p !== data.message));
        if (data.problems.length) data.problems.forEach((problem) => say(who + problem, true));
        else say(who + data.message, false);
        showKit(data.kit);
        if (data.kit.complete && data.status === "accepted") say(words.textComplete, false);
      })
      .catch(() => {
        show("warning", label, [words.textFailed]);
        say(`${label}: ${words.textFailed}`, true);
      });
  };

  /** Checked in the page before it is sent: a forged label, or an item of another TPS. */
  const checkHere = async (text) => {
    const label = scan.parseLabel(text);
    if (!label || label.unsupported) return;
    const checks = ($("scan-words") || {dataset: {}}).dataset;
    const signature = await scan.verify(label, keyset);
    if (signature === "bad") show("critical", scan.formatSerial(label.serial), [checks.bad_signature]);
    else if (signature === "unknown_key") show("critical", scan.formatSerial(label.serial), [checks.unknown_key]);
    else if (label.destination !== words.tps) {
      const dest = /^\d{13}$/.test(label.destination) ? `TPS ${label.destination}` : label.destination;
      show("critical", scan.formatSerial(label.serial), [words.notThisKit.replace("{dest}", dest)]);
    }
  };

  const submit = async (text) => {
    const label = String(text || "").trim();
    if (!label) return;
    await checkHere(label);
    return post(box.dataset.url, {paket: words.kit, label}, `${label.slice(0, 24)}\u2026`);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const label = input.value;
    input.value = "";
    input.focus();
    submit(label);
  });

  // Camera and photo: read in the page (BarcodeDetector or jsQR).
  const start = $("kemas-camera-start");
  const stop = $("kemas-camera-stop");
  let stopCamera = null;
  if (start && scan.cameraPossible()) {
    start.hidden = false;
    start.addEventListener("click", async () => {
      try {
        stopCamera = await scan.startCamera($("kemas-camera"), submit);
      } catch (err) {
        show("warning", words.cameraError, [String(err && err.message || err)]);
        return;
      }
      start.hidden = true;
      stop.hidden = false;
    });
    stop.addEventListener("click", () => {
      if (stopCamera) stopCamera();
      stopCamera = null;
      stop.hidden = true;
      start.hidden = false;
    });
  }
  const photo = $("kemas-photo");
  if (photo) {
    photo.addEventListener("change", async () => {
      const file = photo.files[0];
      photo.value = "";
      if (!file) return;
      const texts = await scan.readPhoto(file);
      if (!texts.length) show("critical", words.noQr, []);
      texts.forEach(submit);
    });
  }

  // Taking an item out (a wrong item, or one packed twice): ask why, record it.
  box.addEventListener("click", (event) => {
    const button = event.target.closest(".take-out");
    if (!button || !words.takeOutUrl) return;
    const reason = window.prompt(words.takeOutReason || "", words.takeOutDefault || "");
    if (reason === null) return;
    post(words.takeOutUrl, {paket: words.kit, serial: button.dataset.serial, reason: reason.trim()},
         button.dataset.serial);
  });
})();
