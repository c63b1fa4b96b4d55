// Tepat courier page: scan with the camera, a photo or a typed code, post each scan to the
// scan API and show the answer big and in colour, next to the camera and the input, with a
// sound. QR codes are read in the page (TepatScan: BarcodeDetector or jsQR), and a scanned
// label is verified and checked against the node's plan slice before it is sent, so a wrong
// box is caught without a network too.
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
  const checks = document.getElementById("scan-words").dataset;
  const scan = window.TepatScan;
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

  // The demo's phones share the demo clock (TEPAT_NOW on the server): their time runs from
  // the server's, kept for offline reloads. Elsewhere the device's own clock is sent, so the
  // server can tell a wrong clock.
  const clockOffset = root.dataset.demoNow
    ? (navigator.onLine === false ? load("tepat.demoOffset", 0)
      : Date.parse(root.dataset.demoNow) - Date.now())
    : 0;
  if (root.dataset.demoNow && navigator.onLine !== false) save("tepat.demoOffset", clockOffset);
  const deviceNow = () => new Date(Date.now() + clockOffset).toISOString();

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

  node.addEventListener("change", () => { save(KEY.node, node.value); refreshTargets(); refreshChecks(); });
  root.querySelectorAll("input[name=action]").forEach((radio) => {
    radio.addEventListener("change", refreshTargets);
  });
  refreshTargets();

  function looksLikeSerial(text) {
    const cleaned = text.replace(/[-\s]/g, "");
    return cleaned.length === 16 && !text.includes(":") && /^[0-9A-Za-z]+$/.test(cleaned);
  }

  function buildEvent(text) {
    const event = {event_id: uuid4(), device_seq: nextSeq(), device_time: deviceNow(),
                   action: action(), node: node.value};
    if (looksLikeSerial(text)) event.serial = text.trim(); else event.label = text;
    // How the item was identified, kept in the custody log: a typed serial or the QR's form.
    event.identified_by = event.serial ? "typed" : /^https:\/\//i.test(text) ? "qr_link" : "qr_signed";
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

  // --- checks in the page, before the server answers ---------------------------------------

  const KEYS = "tepat.keys";
  const sliceKey = (code) => "tepat.slice." + code;
  const typeNames = JSON.parse(checks.types || "{}");
  const races = JSON.parse(checks.races || "{}");
  const local = {};  // event id -> what the page found before the server answered
  let keyset = scan.cached(KEYS);

  async function refreshChecks() {
    keyset = (await scan.fetchCached(root.dataset.keysUrl, KEYS)) || keyset;
    const here = node.value;
    if (here) await scan.fetchCached(root.dataset.sliceUrl.replace("NODE", encodeURIComponent(here)), sliceKey(here));
  }

  const fill = (template, data) => String(template || "").replace(/\{(\w+)\}/g, (m, k) => (k in data ? data[k] : m));

  function placeName(code) {
    const option = Array.from(target.options).concat(Array.from(node.options)).find((o) => o.value === code);
    return option ? option.textContent.split(" · ")[0] : (/^\d{13}$/.test(code) ? `TPS ${code}` : code);
  }

  /** What the page itself can tell about a scanned label (null for a typed serial). */
  async function checkHere(text, event) {
    const label = scan.parseLabel(text);
    if (!label) return null;
    if (label.unsupported) return {kind: "critical", title: words.critical, what: "", lines: [checks.unsupported]};
    const type = typeNames[label.itemType] || label.itemType;
    const what = label.race ? fill(checks.what, {type, race: races[label.race] || label.race}) : type;
    const data = {what, dest: placeName(label.destination), node: placeName(event.node),
                  race: label.race, quantity: label.quantity};
    const found = [];
    const signature = await scan.verify(label, keyset);
    if (signature === "bad") found.push({severity: "critical", message: checks.bad_signature});
    if (signature === "unknown_key") found.push({severity: "critical", message: checks.unknown_key});
    const slice = scan.cached(sliceKey(event.node));
    if (signature !== "bad" && slice && slice.node === event.node) {
      scan.checkPlan(slice, label, event.action, event.quantity).forEach((f) => {
        found.push({severity: f.severity, message: fill(checks[f.code] || f.code, {...data, ...f.data})});
      });
    }
    const kind = found.some((f) => f.severity === "critical") ? "critical"
      : found.length ? "warning" : "ok";
    return {kind, title: words[kind], what: `${what} ${words.for} ${data.dest}`,
            lines: found.map((f) => f.message), serial: label.serial};
  }

  // --- showing answers ------------------------------------------------------------------

  const box = $("hasil");

  let lastSignal = {kind: "", at: 0};

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
    // One beep per answer: the server confirming what the page already said stays quiet.
    if (["ok", "warning", "critical"].includes(kind) &&
        (kind !== lastSignal.kind || Date.now() - lastSignal.at > 3000)) {
      scan.signal(kind);
    }
    lastSignal = {kind, at: Date.now()};
    scan.bringIntoView(box, $("camera").hidden ? $("manual") : $("camera"));
  }

  function describe(result) {
    const item = result.item;
    const what = item ? `${item.what} ${words.for} ${item.destination_name}` : "";
    if (result.status === "accepted") {
      // One line per cause, however many items of a kit it touched.
      const groups = scan.groupFindings(result);
      const worst = groups.some((g) => g.severity === "critical") ? "critical"
        : groups.some((g) => g.severity === "warning") ? "warning" : "ok";
      const title = worst === "ok" ? words.ok : worst === "warning" ? words.warning : words.critical;
      const lines = groups.map((g) => (g.first && g.count > 1
        ? `${g.message} (${fill(checks.andMore, {count: g.count - 1})})` : g.message));
      return {kind: worst, title, what, lines};
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
      remember({event_id: result.event_id, at: entry ? entry.event.device_time : deviceNow(),
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
    // One scan the server cannot take must not hold up the queue: after a refused batch
    // the scans go one by one; one the server refuses (400/413/422), or fails on (500)
    // while others go through, is set aside and shown in the list with the reason.
    let size = 100;
    let wentThrough = false;
    const failedAlone = new Map();
    const setAside = (entry, status, message) => settle([{
      event_id: entry.event.event_id, status: "rejected", code: `http_${status}`, findings: [],
      message: message || `${words.server} (${status})`}]);
    // Signed with this browser's key when it has Ed25519 (kurir-sign.js); a device id whose
    // key the server knows but this browser lost (409) is replaced by a new one.
    const signer = window.TepatSign;
    const keyUrl = root.dataset.deviceKeyUrl;
    let key = signer ? await signer.ready(keyUrl, root.dataset.csrf, deviceId()).catch(() => null) : null;
    if (key === "conflict") {
      localStorage.removeItem(KEY.device);
      key = await signer.ready(keyUrl, root.dataset.csrf, deviceId()).catch(() => null);
      if (key === "conflict") key = null;
    }
    const outgoing = (batch) => Promise.all(batch.map((e) => (key ? signer.sign(key, e.event) : e.event)));
    try {
      for (;;) {
        const batch = pending().filter((e) => e.owner === owner && !failedAlone.has(e.event.event_id))
          .slice(0, size);
        if (!batch.length) break;
        let response;
        try {
          response = await fetch(root.dataset.scanUrl, {
            method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "Accept": "application/json",
                      "X-CSRFToken": root.dataset.csrf},
            body: JSON.stringify({device_id: deviceId(), sent_at: deviceNow(),
                                  events: await outgoing(batch)}),
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
          wentThrough = true;
          continue;
        }
        const message = body && body.message ? body.message : "";
        const refused = [400, 413, 422].includes(response.status);
        if ((refused || response.status === 500) && batch.length > 1) { size = 1; continue; }
        if (refused) { setAside(batch[0], response.status, message); continue; }
        if (response.status === 500) { failedAlone.set(batch[0].event.event_id, message); continue; }
        // The server could not take the batch (overloaded, or a bug): keep it, say why.
        show("warning", words.queued, `${words.server} (${response.status})`,
             message ? [message] : [], null);
        break;
      }
      if (wentThrough) {
        pending().filter((e) => failedAlone.has(e.event.event_id))
          .forEach((e) => setAside(e, 500, failedAlone.get(e.event.event_id)));
      } else if (failedAlone.size) {
        show("warning", words.queued, `${words.server} (500)`, [], null);
      }
    } finally {
      flushing = false;
      renderQueue();
    }
  }

  function queuedNotice() {
    if (lastScan && pending().some((e) => e.event.event_id === lastScan)) {
      const here = local[lastScan];
      if (here) show(here.kind, here.title, here.what, here.lines.concat([words.queuedText]), here.serial);
      else show("queued", words.queued, words.queuedText, [], null);
    }
  }

  // --- scanning -------------------------------------------------------------------------

  async function submit(text) {
    const clean = (text || "").replace(/[\r\n]+$/, "");
    if (!clean.trim()) return;
    const problem = problemWithForm();
    if (problem) {
      show("warning", words.warning, problem, [], null);
      return;
    }
    const event = buildEvent(clean);
    lastScan = event.event_id;
    enqueue(event, looksLikeSerial(clean) ? clean : clean.slice(0, 24) + "…");
    $("quantity").value = "";
    $("seals").value = "";
    let here = null;
    try { here = await checkHere(clean, event); } catch (err) { here = null; }
    if (lastScan === event.event_id && pending().some((e) => e.event.event_id === event.event_id)) {
      if (here) {
        local[event.event_id] = here;
        show(here.kind, here.title, here.what, here.lines.concat([checks.checkedHere]), here.serial);
      } else {
        show("sending", words.sending, "", [], null);
      }
    }
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
      show("warning", words.warning, problem, [], null);
      return;
    }
    show("sending", words.reading, "", [], null);
    // Read in the page first (works offline); the server reads what the page cannot.
    const here = await scan.readPhoto(file);
    if (here.length) {
      here.forEach(submit);
      return;
    }
    if (navigator.onLine === false) {
      show("critical", words.noQr, words.photoOffline, [], null);
      return;
    }
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

  // Camera: BarcodeDetector where the browser has it, jsQR everywhere else.
  let stopCamera = null;

  async function startCamera() {
    try {
      stopCamera = await scan.startCamera($("camera"), submit);
    } catch (err) {
      show("warning", words.cameraError, String(err && err.message || err), [], null);
      return;
    }
    $("camera-stop").hidden = false;
    $("camera-start").hidden = true;
  }

  $("camera-start").hidden = !scan.cameraPossible();
  $("camera-note").hidden = scan.cameraPossible();
  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", () => {
    if (stopCamera) stopCamera();
    stopCamera = null;
    $("camera-stop").hidden = true;
    $("camera-start").hidden = false;
  });

  renderRecent();
  renderQueue();
  flush();  // anything left from last time goes now
  refreshChecks();  // keys and this node's plan, kept for scanning without a network
})();
