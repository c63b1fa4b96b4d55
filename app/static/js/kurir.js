// Tepat courier page: scan with the camera (BarcodeDetector), a photo or a typed code,
// post each scan to the scan API and show the answer big and in colour.
//
// Scans never get lost: each one is written to the outbox in localStorage (with its
// event id and device sequence number) before it is sent, and leaves the outbox only
// when the server has answered for it. Unsent scans are retried when the network
// comes back, every 30 seconds, and when the page is opened again.
"use strict";

(function () {
  const root = document.getElementById("kurir");
  if (!root) return;
  const words = document.getElementById("kurir-words").dataset;
  const $ = (id) => document.getElementById(id);
  const owner = root.dataset.owner;
  const KEY = {device: "tepat.device", seq: "tepat.seq", outbox: "tepat.outbox",
               recent: "tepat.recent." + owner, node: "tepat.node." + owner};

  // --- storage -------------------------------------------------------------------------

  function load(key, fallback) {
    try {
      const value = JSON.parse(localStorage.getItem(key));
      return value === null ? fallback : value;
    } catch (err) {
      return fallback;
    }
  }
  function save(key, value) { localStorage.setItem(key, JSON.stringify(value)); }

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function deviceId() {
    let id = load(KEY.device, null);
    if (!id) {
      id = "web-" + uuid4().slice(0, 18);
      save(KEY.device, id);
    }
    return id;
  }

  function nextSeq() {  // persisted before the scan is queued: a number is never reused
    const seq = load(KEY.seq, 0) + 1;
    save(KEY.seq, seq);
    return seq;
  }

  // --- the form ------------------------------------------------------------------------

  const node = $("node");
  const target = $("target");
  const targetField = $("target-field");
  const remembered = load(KEY.node, null);
  if (remembered && !new URLSearchParams(location.search).get("simpul") &&
      Array.from(node.options).some((o) => o.value === remembered)) {
    node.value = remembered;
  }

  function action() {
    const checked = root.querySelector("input[name=action]:checked");
    return checked ? checked.value : "terima";
  }

  function refreshTargets() {
    const here = node.value;
    const selected = node.selectedOptions[0];
    const parent = selected ? selected.dataset.parent : "";
    const up = action() === "kembali";
    Array.from(target.options).forEach((option) => {
      if (!option.value) return;
      option.hidden = up ? option.value !== parent : option.dataset.parent !== here;
    });
    if (target.selectedOptions[0] && target.selectedOptions[0].hidden) target.value = "";
    targetField.hidden = !["kirim", "kembali"].includes(action());
  }

  node.addEventListener("change", () => { save(KEY.node, node.value); refreshTargets(); });
  root.querySelectorAll("input[name=action]").forEach((radio) => {
    radio.addEventListener("change", refreshTargets);
  });
  refreshTargets();

  function looksLikeSerial(text) {
    const cleaned = text.replace(/[-\s]/g, "");
    return cleaned.length === 16 && !text.includes(":") && /^[0-9A-Za-z]+$/.test(cleaned);
  }

  function buildEvent(text) {
    const event = {event_id: uuid4(), device_seq: nextSeq(), device_time: new Date().toISOString(),
                   action: action(), node: node.value};
    if (looksLikeSerial(text)) event.serial = text.trim(); else event.label = text;
    const quantity = $("quantity").value.trim();
    if (quantity !== "") event.quantity = parseInt(quantity, 10);
    if ($("condition").value) event.condition = $("condition").value;
    const seals = $("seals").value.split(/[,;\s]+/).map((s) => s.trim()).filter(Boolean);
    if (seals.length) event.seals = seals;
    const counterpart = $("counterpart").value.trim();
    if (counterpart) event.counterpart = counterpart;
    if (["kirim", "kembali"].includes(event.action) && target.value) event.target = target.value;
    return event;
  }

  function problemWithForm() {
    if (action() === "segel" && !$("seals").value.trim()) return words.needSeals;
    if (action() === "rusak" && !["rusak_ringan", "rusak_berat", "basah"].includes($("condition").value)) {
      return words.needDamage;
    }
    return "";
  }

  // --- showing answers ------------------------------------------------------------------

  const box = $("hasil");

  function show(kind, title, what, lines, serial) {
    box.className = "result " + kind;
    box.replaceChildren();
    const head = document.createElement("p");
    head.className = "result-title";
    head.textContent = title;
    box.append(head);
    if (what) {
      const p = document.createElement("p");
      p.className = "result-what";
      p.textContent = what;
      box.append(p);
    }
    if (lines && lines.length) {
      const list = document.createElement("ul");
      list.className = "result-lines";
      lines.forEach((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        list.append(li);
      });
      box.append(list);
    }
    if (serial) {
      const link = document.createElement("a");
      link.href = root.dataset.itemUrl.replace("SERIAL", serial);
      link.textContent = words.history;
      box.append(link);
    }
    if (navigator.vibrate && kind !== "ok" && kind !== "idle") navigator.vibrate([120, 60, 120]);
  }

  function describe(result) {
    const item = result.item;
    const what = item ? `${item.what} ${words.for} ${item.destination_name}` : "";
    if (result.status === "accepted") {
      const rank = {critical: 0, warning: 1, info: 2};
      const findings = (result.findings || []).slice().sort(
        (a, b) => (rank[a.severity] ?? 3) - (rank[b.severity] ?? 3));
      const worst = findings.some((f) => f.severity === "critical") ? "critical"
        : findings.some((f) => f.severity === "warning") ? "warning" : "ok";
      const title = worst === "ok" ? words.ok : worst === "warning" ? words.warning : words.critical;
      return {kind: worst, title, what, lines: findings.map((f) => f.message)};
    }
    if (result.status === "duplicate") return {kind: "ok", title: words.duplicate, what, lines: []};
    return {kind: "critical", title: words.rejected, what, lines: [result.message]};
  }

  function remember(entry) {
    const recent = load(KEY.recent, []).filter((r) => r.event_id !== entry.event_id);
    recent.unshift(entry);
    save(KEY.recent, recent.slice(0, 20));
    renderRecent();
  }

  function renderRecent() {
    const list = $("riwayat");
    list.replaceChildren();
    load(KEY.recent, []).forEach((r) => {
      const li = document.createElement("li");
      li.className = "recent-" + r.kind;
      const badge = document.createElement("span");
      badge.className = "badge " + ({ok: "ok", warning: "warning", critical: "critical"}[r.kind] || "info");
      badge.textContent = r.title;
      const text = document.createElement("span");
      const time = new Date(r.at).toLocaleTimeString(document.documentElement.lang || "id",
                                                      {hour: "2-digit", minute: "2-digit"});
      text.textContent = ` ${time} · ${r.action} · ${r.what || r.code}` +
        (r.lines && r.lines.length ? ` — ${r.lines.join(" · ")}` : "");
      li.append(badge, text);
      list.append(li);
    });
  }

  // --- the outbox -----------------------------------------------------------------------

  let flushing = false;
  let lastScan = null;  // the event id whose answer the big box should show

  function pending() { return load(KEY.outbox, []); }

  function renderQueue() {
    const all = pending();
    const mine = all.filter((e) => e.owner === owner).length;
    const others = all.length - mine;
    $("antrean").hidden = all.length === 0;
    $("antrean-text").textContent = `${mine} ${words.pending}` +
      (others ? ` (+${others} ${words.otherOwner})` : "");
  }

  function enqueue(event, shownText) {
    const outbox = pending();
    outbox.push({owner, event, shown: shownText});
    save(KEY.outbox, outbox);
    renderQueue();
  }

  function settle(results) {
    const done = new Set();
    results.forEach((result) => {
      if (!result.event_id) return;
      done.add(result.event_id);
      const entry = pending().find((e) => e.event.event_id === result.event_id);
      const shown = describe(result);
      remember({event_id: result.event_id, at: entry ? entry.event.device_time : new Date().toISOString(),
                action: entry ? entry.event.action : "", code: entry ? entry.shown : "",
                what: shown.what, kind: shown.kind, title: shown.title, lines: shown.lines});
      if (result.event_id === lastScan) {
        show(shown.kind, shown.title, shown.what, shown.lines, result.serial);
      }
    });
    save(KEY.outbox, pending().filter((e) => !done.has(e.event.event_id)));
  }

  async function flush() {
    if (flushing) return;
    if (navigator.onLine === false) {  // surely offline: wait for the "online" event
      queuedNotice();
      renderQueue();
      return;
    }
    flushing = true;
    try {
      for (;;) {
        const batch = pending().filter((e) => e.owner === owner).slice(0, 100);
        if (!batch.length) break;
        let response;
        try {
          response = await fetch(root.dataset.scanUrl, {
            method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "Accept": "application/json",
                      "X-CSRFToken": root.dataset.csrf},
            body: JSON.stringify({device_id: deviceId(), sent_at: new Date().toISOString(),
                                  events: batch.map((e) => e.event)}),
          });
        } catch (err) {
          queuedNotice();
          break;  // offline: keep everything, try again later
        }
        if (response.status === 401 || response.status === 403) {
          show("warning", words.queued, words.session, [], null);
          break;
        }
        let body = null;
        try { body = await response.json(); } catch (err) { body = null; }
        if ((response.ok || response.status === 409) && body && Array.isArray(body.results)) {
          settle(body.results);
          continue;
        }
        // The server could not take the batch (overloaded, or a bug): keep it, say why.
        show("warning", words.queued, `${words.server} (${response.status})`,
             body && body.message ? [body.message] : [], null);
        break;
      }
    } finally {
      flushing = false;
      renderQueue();
    }
  }

  function queuedNotice() {
    if (lastScan && pending().some((e) => e.event.event_id === lastScan)) {
      show("queued", words.queued, words.queuedText, [], null);
    }
  }

  // --- scanning -------------------------------------------------------------------------

  function submit(text) {
    const clean = (text || "").replace(/[\r\n]+$/, "");
    if (!clean.trim()) return;
    const problem = problemWithForm();
    if (problem) {
      show("critical", words.rejected, problem, [], null);
      return;
    }
    const event = buildEvent(clean);
    lastScan = event.event_id;
    enqueue(event, looksLikeSerial(clean) ? clean : clean.slice(0, 24) + "…");
    show("sending", words.sending, "", [], null);
    $("quantity").value = "";
    $("seals").value = "";
    flush();
  }

  $("manual").addEventListener("submit", (event) => {
    event.preventDefault();
    submit($("code").value);
    $("code").value = "";
    $("code").focus();
  });
  $("flush").addEventListener("click", flush);
  window.addEventListener("online", flush);
  // The page opens without a network too (the service worker keeps the last copy).
  if ("serviceWorker" in navigator && root.dataset.swUrl) {
    navigator.serviceWorker.register(root.dataset.swUrl, {scope: "/kurir"}).catch(() => {});
  }
  setInterval(flush, 30000);

  // Photo: the server reads the QR codes (scanner.decode) and answers with their texts.
  async function shrink(file) {
    if (!window.createImageBitmap || file.size < 1.5 * 1048576) return file;
    try {
      const bitmap = await createImageBitmap(file);
      const scale = Math.min(1, 2400 / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size <= Number(root.dataset.photoMax)) return file;
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return await new Promise((resolve) => canvas.toBlob((b) => resolve(b || file), "image/jpeg", 0.9));
    } catch (err) {
      return file;
    }
  }

  $("photo").addEventListener("change", async () => {
    const file = $("photo").files[0];
    $("photo").value = "";
    if (!file) return;
    const problem = problemWithForm();
    if (problem) {
      show("critical", words.rejected, problem, [], null);
      return;
    }
    show("sending", words.reading, "", [], null);
    const form = new FormData();
    form.append("foto", await shrink(file), file.name || "foto.jpg");
    let response;
    try {
      response = await fetch(root.dataset.photoUrl, {
        method: "POST", body: form, credentials: "same-origin",
        headers: {"X-CSRFToken": root.dataset.csrf, "Accept": "application/json"}});
    } catch (err) {
      show("warning", words.queued, words.photoOffline, [], null);
      return;
    }
    let body = {};
    try { body = await response.json(); } catch (err) { body = {}; }
    if (!response.ok) {
      show("critical", words.rejected, body.message || `${response.status}`, [], null);
      return;
    }
    if (!body.texts || !body.texts.length) {
      show("critical", words.noQr, body.message || "", [], null);
      return;
    }
    body.texts.forEach(submit);
  });

  // Camera: BarcodeDetector where the browser has it (Chrome on Android, among others).
  let stream = null;
  let detector = null;
  let seen = {text: "", at: 0};

  async function cameraSupported() {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return false;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code");
    } catch (err) {
      return false;
    }
  }

  async function detectLoop(video) {
    if (!stream) return;
    try {
      const found = await detector.detect(video);
      const now = Date.now();
      found.forEach((code) => {
        // The label stays in view for a while: one scan per label until it leaves.
        if (code.rawValue === seen.text && now - seen.at < 8000) { seen.at = now; return; }
        seen = {text: code.rawValue, at: now};
        submit(code.rawValue);
      });
    } catch (err) {
      // a frame that is not ready yet: try the next one
    }
    setTimeout(() => detectLoop(video), 200);
  }

  async function startCamera() {
    const video = $("camera");
    try {
      detector = detector || new window.BarcodeDetector({formats: ["qr_code"]});
      stream = await navigator.mediaDevices.getUserMedia(
        {video: {facingMode: {ideal: "environment"}}, audio: false});
    } catch (err) {
      show("warning", words.cameraError, String(err && err.message || err), [], null);
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    $("camera-stop").hidden = false;
    $("camera-start").hidden = true;
    await video.play();
    detectLoop(video);
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    $("camera").hidden = true;
    $("camera-stop").hidden = true;
    $("camera-start").hidden = false;
  }

  cameraSupported().then((ok) => {
    $("camera-start").hidden = !ok;
    $("camera-note").hidden = ok;
  });
  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", stopCamera);

  renderRecent();
  renderQueue();
  flush();  // anything left from last time goes now
})();
