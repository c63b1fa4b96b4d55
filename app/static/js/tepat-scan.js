// Tepat in the browser: read QR codes, verify labels and check the plan before anything is
// sent, and give the answer to a scan in one glance (and one beep). Used by the courier page
// (kurir.js) and the kit-packing page (gudang-kemas.js); works offline.
//
// * Reading: BarcodeDetector where the browser has it, else jsQR (vendored, pure JS), for
//   the live camera and for photos.
// * Labels: the same format as labels/payload.py (TP1:+Base45 or HTTPS://HOST/L/+Base32;
//   Ed25519 over "TEPAT-LABEL-v1" + the bytes before the signature), verified with WebCrypto
//   against the public keys from GET /api/v1/keys, kept in localStorage for offline use.
// * Plan: the checks of scanner/plan.py against GET /api/v1/nodes/<node>/plan-slice.
"use strict";

window.TepatScan = (() => {
  const DOMAIN = new TextEncoder().encode("TEPAT-LABEL-v1");
  const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const RACES = [null, "GUB", "BUP", "WAL"];
  // destination kind -> [digit count, packed width in bytes, dot positions]
  const DESTINATIONS = [[13, 6, []], [4, 2, [2]], [6, 3, [2, 4]], [10, 5, [2, 4, 6]]];

  // --- label text -> fields ---------------------------------------------------------------

  function b45decode(text) {
    if (text.length % 3 === 1) throw new Error("base45");
    const out = [];
    for (let i = 0; i < text.length; i += 3) {
      const v = Array.from(text.slice(i, i + 3), (c) => {
        const n = B45.indexOf(c);
        if (n < 0) throw new Error("base45");
        return n;
      });
      if (v.length === 3) {
        const n = v[0] + v[1] * 45 + v[2] * 2025;
        if (n > 0xffff) throw new Error("base45");
        out.push(n >> 8, n & 0xff);
      } else {
        const n = v[0] + v[1] * 45;
        if (n > 0xff) throw new Error("base45");
        out.push(n);
      }
    }
    return Uint8Array.from(out);
  }

  function b32decode(text) {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const out = [];
    let bits = 0;
    let value = 0;
    for (const c of text) {
      const n = alphabet.indexOf(c);
      if (n < 0) throw new Error("base32");
      value = (value << 5) | n;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out.push((value >> bits) & 0xff);
      }
    }
    return Uint8Array.from(out);
  }

  function bigOf(bytes) {
    return bytes.reduce((n, b) => n * 256n + BigInt(b), 0n);
  }

  function ascii(data, offset) {
    const length = data[offset];
    const end = offset + 1 + length;
    if (length === undefined || end > data.length) throw new Error("truncated");
    return [String.fromCharCode(...data.slice(offset + 1, end)), end];
  }

  /** The label's fields from its QR text, or null when the text is not a Tepat label. */
  function parseLabel(text) {
    const clean = String(text || "").replace(/[\r\n]+$/, "");
    let data;
    try {
      const short = /^TP(\d{1,3}):(.*)$/is.exec(clean);
      const link = /^HTTPS?:\/\/[^/]+(?:\/[^?#]*)?\/L\/([A-Z2-7]+)$/i.exec(clean);
      if (short) {
        if (Number(short[1]) !== 1) return {unsupported: true};
        data = b45decode(short[2]);
      } else if (link) {
        data = b32decode(link[1].toUpperCase());
      } else {
        return null;
      }
      if (data[0] !== 1) return {unsupported: true};
      const flags = data[1];
      const [digitCount, width, dots] = DESTINATIONS[(flags >> 2) & 3];
      let serialNumber = bigOf(data.slice(2, 12));
      let serial = "";
      for (let i = 0; i < 16; i++) {
        serial = CROCKFORD[Number(serialNumber & 31n)] + serial;
        serialNumber >>= 5n;
      }
      const quantity = (data[12] << 8) | data[13];
      let digits = bigOf(data.slice(14, 14 + width)).toString().padStart(digitCount, "0");
      dots.slice().reverse().forEach((p) => { digits = digits.slice(0, p) + "." + digits.slice(p); });
      let offset = 14 + width;
      let itemType;
      let keyId;
      [itemType, offset] = ascii(data, offset);
      [keyId, offset] = ascii(data, offset);
      if (data.length - offset !== 64 || flags >> 4) return null;
      return {serial, itemType, destination: digits, race: RACES[flags & 3], quantity, keyId,
              signed: data.slice(0, offset), signature: data.slice(offset)};
    } catch (err) {
      return null;
    }
  }

  /** "7F3K9QZ2AB4CD5EF" -> "7F3K-9QZ2-AB4C-D5EF". */
  function formatSerial(serial) {
    return serial.match(/.{1,4}/g).join("-");
  }

  // --- signatures -----------------------------------------------------------------------

  const keyCache = new Map();

  /**
   * "valid", "bad" (forged or altered), "unknown_key", or "unchecked" (no keys yet, or a
   * browser without Ed25519 in WebCrypto: the server checks it on sync).
   */
  async function verify(label, keyset) {
    const entry = keyset && (keyset.keys || []).find((k) => k.key_id === label.keyId);
    if (!keyset || !keyset.keys) return "unchecked";
    if (!entry) return "unknown_key";
    if (!window.crypto || !crypto.subtle) return "unchecked";
    try {
      let key = keyCache.get(entry.public_key);
      if (!key) {
        const raw = Uint8Array.from(atob(entry.public_key), (c) => c.charCodeAt(0));
        key = await crypto.subtle.importKey("raw", raw, {name: "Ed25519"}, false, ["verify"]);
        keyCache.set(entry.public_key, key);
      }
      const message = new Uint8Array(DOMAIN.length + label.signed.length);
      message.set(DOMAIN);
      message.set(label.signed, DOMAIN.length);
      return (await crypto.subtle.verify({name: "Ed25519"}, key, label.signature, message))
        ? "valid" : "bad";
    } catch (err) {
      return "unchecked";  // no Ed25519 here (older browsers): the server decides
    }
  }

  // --- the plan slice (scanner/plan.py, check_scan) ----------------------------------------

  const digits = (code) => String(code).replace(/\./g, "");
  const serialKey = (s) => String(s).replace(/[-\s]/g, "").toUpperCase();

  /**
   * Findings {code, severity: "critical"|"warning", data} for a label at the slice's node.
   * ``words`` are the page's message templates ({dest}, {node}, {type}, ... filled in).
   */
  function checkPlan(slice, label, action, counted) {
    const found = [];
    const add = (code, severity, data) => found.push({code, severity, data});
    if ((slice.voided || []).map(serialKey).includes(serialKey(label.serial))) {
      add("voided", "critical", {});
    }
    const destinations = new Set(slice.destinations || []);
    const onRoute = destinations.has(label.destination) || label.destination === slice.node;
    if (!onRoute) {
      const under = digits(label.destination).startsWith(digits(slice.node));
      add(under ? "unknown_destination" : "wrong_route", under ? "warning" : "critical", {});
    }
    if (label.race && (slice.races || []).length && !slice.races.includes(label.race)) {
      add("race_not_held", "critical", {});
    }
    const rows = (slice.allowed || []).filter((r) => r.destination === label.destination);
    if (onRoute && rows.length) {
      const sameType = rows.filter((r) => r.item_type === label.itemType);
      const match = sameType.find((r) => (r.race || null) === label.race);
      if (!sameType.length) add("wrong_type", "critical", {});
      else if (!match) add("wrong_race", "critical", {});
      else if (match.quantity !== label.quantity) {
        add("quantity_plan_mismatch", "warning", {planned: match.quantity});
      }
    }
    if (counted !== null && counted !== undefined && counted !== label.quantity) {
      add("count_mismatch", "critical", {counted});
    }
    if (action === "buka" && slice.kind && !["tps", "kpps"].includes(slice.kind.toLowerCase())) {
      add("open_outside_tps", "critical", {});
    }
    return found;
  }

  // --- cached server documents (keys, plan slices) -------------------------------------------

  function cached(key) {
    try { return JSON.parse(localStorage.getItem(key)); } catch (err) { return null; }
  }

  /** The document at url, fresh when online, else the last copy kept under key. */
  async function fetchCached(url, key) {
    if (navigator.onLine === false) return cached(key);
    try {
      const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (response.ok) {
        const body = await response.json();
        try { localStorage.setItem(key, JSON.stringify(body)); } catch (err) { /* full: keep going */ }
        return body;
      }
    } catch (err) {
      // offline: the copy from last time
    }
    return cached(key);
  }

  // --- reading QR codes ------------------------------------------------------------------

  let detector;
  async function nativeDetector() {
    if (detector !== undefined) return detector;
    detector = null;
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) detector = new window.BarcodeDetector({formats: ["qr_code"]});
      } catch (err) {
        detector = null;
      }
    }
    return detector;
  }

  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", {willReadFrequently: true});

  function jsqrTexts(source, width, height, maxSide) {
    if (!window.jsQR || !width || !height) return [];
    const scale = Math.min(1, maxSide / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    const code = window.jsQR(pixels.data, pixels.width, pixels.height, {inversionAttempts: "dontInvert"});
    return code && code.data ? [code.data] : [];
  }

  /** QR texts in an image, bitmap or video frame (empty when none is readable). */
  async function readImage(source, width, height) {
    const native = await nativeDetector();
    if (native) {
      try {
        const found = await native.detect(source);
        if (found.length) return found.map((c) => c.rawValue);
      } catch (err) {
        // fall through to jsQR
      }
    }
    for (const side of [1200, 2000, 700]) {
      const texts = jsqrTexts(source, width, height, side);
      if (texts.length) return texts;
      if (Math.max(width, height) <= side) break;
    }
    return [];
  }

  /** QR texts in a photo file (empty when none is readable or the file is not an image). */
  async function readPhoto(file) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (err) {
      return [];
    }
    try {
      return await readImage(bitmap, bitmap.width, bitmap.height);
    } finally {
      if (bitmap.close) bitmap.close();
    }
  }

  /** True when this browser can read QR codes from the camera (natively or with jsQR). */
  function cameraPossible() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
                   (window.jsQR || "BarcodeDetector" in window));
  }

  /**
   * Start the back camera in ``video``; ``onText`` gets each label once while it stays in
   * view. Returns a stop() function.
   */
  async function startCamera(video, onText) {
    const stream = await navigator.mediaDevices.getUserMedia(
      {video: {facingMode: {ideal: "environment"}}, audio: false});
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    let running = true;
    let seen = {text: "", at: 0};
    const loop = async () => {
      if (!running) return;
      if (video.readyState >= 2) {
        const texts = await readImage(video, video.videoWidth, video.videoHeight);
        const now = Date.now();
        texts.forEach((text) => {
          if (text === seen.text && now - seen.at < 8000) { seen.at = now; return; }
          seen = {text, at: now};
          onText(text);
        });
      }
      setTimeout(loop, 250);
    };
    loop();
    return () => {
      running = false;
      stream.getTracks().forEach((track) => track.stop());
      video.srcObject = null;
      video.hidden = true;
    };
  }

  // --- the answer: grouped, announced, heard and felt -------------------------------------------

  const RANK = {critical: 0, warning: 1, info: 2};

  /**
   * One line per cause: the server's grouped answer when it sends one ({code, severity, count,
   * message}), else the findings grouped here by code, the worst first.
   */
  function groupFindings(result) {
    if (Array.isArray(result.groups)) {
      return result.groups.slice().sort((a, b) => (RANK[a.severity] ?? 3) - (RANK[b.severity] ?? 3));
    }
    const byCode = new Map();
    (result.findings || []).forEach((f) => {
      const group = byCode.get(f.code);
      if (group) {
        group.count += 1;
        if ((RANK[f.severity] ?? 3) < (RANK[group.severity] ?? 3)) group.severity = f.severity;
      } else {
        byCode.set(f.code, {code: f.code, severity: f.severity, count: 1, message: f.message, first: f});
      }
    });
    return Array.from(byCode.values()).sort((a, b) => (RANK[a.severity] ?? 3) - (RANK[b.severity] ?? 3));
  }

  let audio = null;
  /** A short beep for OK, two for PERHATIAN, a long low one for TOLAK; and a buzz. */
  function signal(kind) {
    const tones = {ok: [[880, 0.12]], warning: [[660, 0.15], [660, 0.15]],
                   critical: [[220, 0.5]]}[kind];
    if (!tones) return;
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (Context) {
        audio = audio || new Context();
        let at = audio.currentTime + 0.02;
        tones.forEach(([frequency, length]) => {
          const oscillator = audio.createOscillator();
          const gain = audio.createGain();
          oscillator.frequency.value = frequency;
          oscillator.type = kind === "critical" ? "square" : "sine";
          gain.gain.value = 0.15;
          oscillator.connect(gain).connect(audio.destination);
          oscillator.start(at);
          oscillator.stop(at + length);
          at += length + 0.08;
        });
      }
    } catch (err) {
      // no sound here: the colour and the words still say it
    }
    if (navigator.vibrate) {
      navigator.vibrate({ok: [60], warning: [120, 60, 120], critical: [400, 100, 400]}[kind]);
    }
  }

  /**
   * Bring the answer box into view where the person is looking (not the top of the page),
   * with the field or camera they scan with (``near``) when both fit on the screen.
   */
  function bringIntoView(box, near) {
    const a = box.getBoundingClientRect();
    const b = near && !near.hidden ? near.getBoundingClientRect() : a;
    const top = Math.min(a.top, b.top);
    const bottom = Math.max(a.bottom, b.bottom);
    const room = window.innerHeight;
    let shift = 0;
    if (bottom - top > room) shift = a.top - 8;  // both do not fit: the answer wins
    else if (top < 0) shift = top - 8;
    else if (bottom > room) shift = bottom - room + 8;
    if (shift) window.scrollBy(0, shift);
  }

  return {parseLabel, formatSerial, verify, checkPlan, fetchCached, cached, readImage, readPhoto,
          cameraPossible, startCamera, groupFindings, signal, bringIntoView};
})();
