// Tepat closing page: the KPPS copies the C.Hasil numbers per race, the seals on the box and
// (optionally) a photo of the form. Each record is written to an outbox in localStorage with
// its client id before it is sent and leaves it only when the server has answered for it;
// unsent records are retried when the network comes back, every 30 s and on the next visit.
"use strict";

(function () {
  const root = document.getElementById("tutup");
  if (!root) return;
  const words = document.getElementById("tutup-words").dataset;
  const owner = root.dataset.owner;
  const KEY = {device: "tepat.device", outbox: "tepat.tutup.outbox", recent: "tepat.tutup.recent." + owner};
  const COUNTS = ["received", "used", "invalid", "spoiled", "unused", "voters_signed", "reserve_drawn"];
  const PHOTO_SIDE = 1600;  // the form stays legible; the record stays small enough to queue
  const $ = (id) => document.getElementById(id);
  let flushing = false;

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
    if (!id) { id = "web-" + uuid4().slice(0, 18); save(KEY.device, id); }
    return id;
  }
  const pending = () => load(KEY.outbox, []);

  function show(kind, title, text) {
    const box = $("tutup-hasil");
    box.className = "result " + kind;
    box.querySelector(".result-title").textContent = title;
    box.querySelector(".result-what").textContent = text || "";
  }

  function remember(record, status, message) {
    const recent = load(KEY.recent, []);
    recent.unshift({client_id: record.client_id, tps: record.tps, race: record.race, status, message,
                    at: new Date().toISOString()});
    save(KEY.recent, recent.slice(0, 20));
    renderRecent();
  }

  function renderRecent() {
    const list = $("tutup-riwayat");
    list.textContent = "";
    load(KEY.recent, []).forEach((r) => {
      const li = document.createElement("li");
      li.textContent = `${r.tps} ${r.race}: ${r.status}${r.message ? " – " + r.message : ""} (ID ${r.client_id})`;
      list.appendChild(li);
    });
  }

  function renderQueue() {
    const mine = pending().filter((e) => e.owner === owner);
    const line = $("tutup-antrean");
    line.hidden = !mine.length;
    line.querySelector("span").textContent = `${mine.length} ${words.pending}`;
  }

  function settle(results) {
    const done = new Set();
    const byId = new Map(pending().map((e) => [e.record.client_id, e.record]));
    results.forEach((result) => {
      done.add(result.client_id);
      const record = byId.get(result.client_id) || {client_id: result.client_id};
      const ok = result.status === "accepted" || result.status === "duplicate";
      remember(record, result.status, ok ? "" : result.message);
      show(ok ? "ok" : "critical", ok ? words.ok : words.rejected, result.message);
    });
    save(KEY.outbox, pending().filter((e) => !done.has(e.record.client_id)));
  }

  async function flush() {
    if (flushing) return;
    if (navigator.onLine === false) {  // surely offline: wait for the "online" event
      if (pending().some((e) => e.owner === owner)) show("warning", words.saved, words.savedText);
      renderQueue();
      return;
    }
    flushing = true;
    try {
      for (;;) {
        const batch = pending().filter((e) => e.owner === owner).slice(0, 5);
        if (!batch.length) break;
        let response;
        try {
          response = await fetch(root.dataset.url, {
            method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "Accept": "application/json",
                      "X-CSRFToken": root.dataset.csrf},
            body: JSON.stringify({device_id: deviceId(), records: batch.map((e) => e.record)}),
          });
        } catch (err) {
          show("warning", words.saved, words.savedText);
          break;  // offline: keep everything
        }
        if (response.status === 401 || response.status === 403) { show("warning", words.saved, words.session); break; }
        let body = null;
        try { body = await response.json(); } catch (err) { body = null; }
        if ((response.ok || response.status === 409) && body && Array.isArray(body.results)) {
          settle(body.results);
          continue;
        }
        if ([400, 413, 422].includes(response.status)) {  // this batch will never go: say why
          settle(batch.map((e) => ({client_id: e.record.client_id, status: "rejected",
                                    message: (body && body.message) || `${words.server} (${response.status})`})));
          continue;
        }
        show("warning", words.saved, `${words.server} (${response.status})`);
        break;
      }
    } finally {
      flushing = false;
      renderQueue();
    }
  }

  function shrink(file) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => {
        const scale = Math.min(1, PHOTO_SIDE / Math.max(image.width, image.height));
        const canvas = document.createElement("canvas");
        canvas.width = Math.round(image.width * scale);
        canvas.height = Math.round(image.height * scale);
        canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(image.src);
        resolve(canvas.toDataURL("image/jpeg", 0.8));
      };
      image.onerror = () => reject(new Error(words.photoBig));
      image.src = URL.createObjectURL(file);
    });
  }

  function pickRaces() {
    const option = $("tutup-tps").selectedOptions[0];
    const held = (option ? option.dataset.races : "").split(",");
    Array.from($("tutup-race").options).forEach((o) => { o.hidden = !held.includes(o.value); });
    const first = Array.from($("tutup-race").options).find((o) => !o.hidden);
    if (first && $("tutup-race").selectedOptions[0].hidden) first.selected = true;
  }

  const form = $("tutup-form");
  if (form) {
    $("tutup-tps").addEventListener("change", pickRaces);
    pickRaces();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const record = {client_id: uuid4(), tps: data.get("tps"), race: data.get("race"),
                      device_time: new Date().toISOString(),
                      seals: String(data.get("seals") || "").split(",").map((s) => s.trim()).filter(Boolean)};
      COUNTS.forEach((name) => { record[name] = parseInt(data.get(name) || "0", 10); });
      ["box", "note", "reserve_note", "corrects"].forEach((name) => {
        const value = String(data.get(name) || "").trim();
        if (value) record[name] = value;
      });
      const photo = data.get("photo");
      if (photo && photo.size) {
        try { record.photo = await shrink(photo); } catch (err) { show("critical", words.rejected, err.message); return; }
      }
      const queue = pending();
      queue.push({owner, record});
      try {
        save(KEY.outbox, queue);
      } catch (err) {  // storage full (a big photo): keep the numbers, drop the photo
        delete record.photo;
        save(KEY.outbox, queue);
      }
      show("warning", words.saved, words.savedText);
      form.reset();
      pickRaces();
      renderQueue();
      flush();
    });
  }
  $("tutup-kirim").addEventListener("click", flush);
  window.addEventListener("online", flush);
  setInterval(flush, 30000);
  renderRecent();
  renderQueue();
  flush();
})();
