// The public item page checks the log's proofs in the visitor's own browser.
//
// For every scan of the item: the leaf hash is recomputed from the event id and its chain
// digest (RFC 9162: SHA-256(0x00 || domain || event id || digest)), the inclusion proof is
// folded up to a root (RFC 9162 §2.1.3.2), the root must equal the one in the signed
// checkpoint, and the checkpoint's Ed25519 signature (C2SP signed note) is checked with
// the log key. Consecutive scans must chain (each one's previous hash is the one before).
// SHA-256 and Ed25519 come from WebCrypto; nothing is loaded from elsewhere.
(function () {
  "use strict";
  var box = document.getElementById("bukti");
  if (!box) return;
  var text = box.dataset;
  var statusEl = box.querySelector(".status");
  var detailEl = box.querySelector(".detail");

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) { return String(values[name]); });
  }
  function show(state, status, detail) {
    box.classList.remove("ok-box", "bad-box", "warn-box");
    if (state) box.classList.add(state);
    box.dataset.state = state === "ok-box" ? "ok" : state === "bad-box" ? "fail" : "other";
    statusEl.textContent = status;
    detailEl.textContent = detail || "";
  }
  function fail(reason) { show("bad-box", "✘ " + text.fail, reason); }

  function hexBytes(hex) {
    if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/.test(hex)) throw new Error("bad hex");
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }
  function b64Bytes(value) {
    var raw = atob(value);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function concat(parts) {
    var size = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(size);
    var at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  function same(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function sha256(parts) {
    return crypto.subtle.digest("SHA-256", concat(parts)).then(function (d) { return new Uint8Array(d); });
  }
  function nodeHash(left, right) { return sha256([Uint8Array.of(1), left, right]); }

  async function verifyInclusion(leaf, index, size, proof, root) {
    if (!(index >= 0 && index < size)) throw new Error("leaf index outside the tree");
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) throw new Error("inclusion proof too long");
      var p = proof[i];
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("inclusion proof too short");
    if (!same(r, root)) throw new Error("inclusion proof does not lead to the checkpoint root");
  }

  function parseNote(note) {
    var split = note.lastIndexOf("\n\n");
    if (split < 0 || note.charAt(note.length - 1) !== "\n") throw new Error("not a signed note");
    var body = note.slice(0, split + 1);
    var lines = body.slice(0, -1).split("\n");
    if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("bad checkpoint body");
    return {
      body: body,
      origin: lines[0],
      size: Number(lines[1]),
      root: b64Bytes(lines[2]),
      signatures: note.slice(split + 2, -1).split("\n"),
    };
  }

  async function verifySignature(note, key) {
    var name = key.key_name;
    var raw = b64Bytes(key.public_key);
    var keyId = (await sha256([new TextEncoder().encode(name + "\n"), Uint8Array.of(1), raw])).slice(0, 4);
    var publicKey;
    try {
      publicKey = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return "unsupported";
    }
    var body = new TextEncoder().encode(note.body);
    for (var i = 0; i < note.signatures.length; i++) {
      var parts = note.signatures[i].split(" ");
      if (parts.length !== 3 || parts[0] !== "\u2014") throw new Error("bad signature line");
      if (parts[1] !== name) continue;
      var blob = b64Bytes(parts[2]);
      if (!same(blob.slice(0, 4), keyId)) continue;
      var good = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, blob.slice(4), body);
      if (!good) throw new Error("the checkpoint signature does not verify");
      return "ok";
    }
    throw new Error("no signature from the log key");
  }

  function pinKey(key) {
    // First use pins the log key on this device; a later change is reported, not hidden.
    try {
      var stored = window.localStorage.getItem("tepat-log-key");
      if (stored && stored !== key.public_key) return false;
      if (!stored) window.localStorage.setItem("tepat-log-key", key.public_key);
    } catch (e) { /* storage blocked: nothing to compare with */ }
    return true;
  }

  function mark(eventId, ok, message) {
    var row = document.querySelector('[data-event="' + eventId + '"] .proof-state');
    if (row) row.textContent = (ok ? "✔ " : "✘ ") + (message || "");
  }

  async function check(bundle) {
    if (bundle.format !== "tepat-proof/v1") throw new Error("unknown bundle format");
    var events = bundle.events || [];
    var logged = events.filter(function (e) { return e.proof !== null; });
    if (!bundle.checkpoint || logged.length === 0) {
      show("warn-box", text.none, events.length ? fill(text.pending, { n: events.length }) : "");
      return;
    }
    if (!pinKey(bundle.key)) throw new Error(text.keyChanged);
    var note = parseNote(bundle.checkpoint);
    if (note.size !== bundle.tree_size) throw new Error("checkpoint size differs from the bundle");
    var signature = await verifySignature(note, bundle.key);
    var domain = b64Bytes(bundle.leaf_domain);
    var previous = null;
    for (var i = 0; i < events.length; i++) {
      var e = events[i];
      if (previous !== null && e.prev_hash !== previous) throw new Error("scan " + e.seq + ": the hash chain is broken");
      if (previous === null && e.seq === 1 && !/^0{64}$/.test(e.prev_hash)) throw new Error("scan 1 does not start the chain");
      previous = e.event_hash;
      if (e.proof === null) { mark(e.event_id, false, text.pending.replace("%(n)s", "1")); continue; }
      var leaf = await sha256([Uint8Array.of(0), domain, hexBytes(e.event_id.replace(/-/g, "")), hexBytes(e.event_hash)]);
      if (!same(leaf, hexBytes(e.leaf_hash))) throw new Error("scan " + e.seq + ": leaf hash does not match the event");
      try {
        await verifyInclusion(leaf, e.leaf_index, note.size, e.proof.map(hexBytes), note.root);
      } catch (err) {
        mark(e.event_id, false, err.message);
        throw new Error("scan " + e.seq + ": " + err.message);
      }
      mark(e.event_id, true, "#" + e.leaf_index);
    }
    var detail = fill(text.okDetail, { n: logged.length, size: note.size, fp: bundle.key.fingerprint });
    if (logged.length < events.length) detail += " " + fill(text.pending, { n: events.length - logged.length });
    if (signature === "unsupported") {
      show("warn-box", text.noEd25519, detail);
      return;
    }
    show("ok-box", "✔ " + text.ok, detail);
  }

  if (!window.crypto || !crypto.subtle) {
    show("warn-box", text.noCrypto, "");
    return;
  }
  show(null, text.checking, "");
  fetch(text.bundle, { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(check)
    .catch(function (err) { fail(err.message); });
})();
