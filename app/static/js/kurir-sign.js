// Tepat courier page: sign every scan with a key of this browser (WebCrypto Ed25519), the
// way tepat-scan signs with its device-key.pem, so nobody can invent this courier's scans.
//
// The private key is made non-extractable and kept in IndexedDB; its public half is
// registered once per device id (POST /api/v1/devices/key). Where the browser has no
// Ed25519, or the key store is unavailable, scans go unsigned as before (nothing is
// registered, so the server does not expect signatures from this device).
window.TepatSign = (function () {
  "use strict";
  const STORE = "keys";
  let cached = null;  // {deviceId, key} once ready

  function b64url(bytes) {
    let text = "";
    new Uint8Array(bytes).forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // Sorted keys, no spaces: the bytes Python's json.dumps(sort_keys=True,
  // separators=(",", ":"), ensure_ascii=False) gives (scanner/signing.py).
  function canonical(value) {
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value && typeof value === "object") {
      return "{" + Object.keys(value).sort().filter((k) => value[k] !== undefined)
        .map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  function idb(mode, action) {
    return new Promise((resolve, reject) => {
      const opened = indexedDB.open("tepat-sign", 1);
      opened.onupgradeneeded = () => opened.result.createObjectStore(STORE);
      opened.onerror = () => reject(opened.error);
      opened.onsuccess = () => {
        const tx = opened.result.transaction(STORE, mode);
        const request = action(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error);
      };
    });
  }

  async function keyFor(deviceId) {
    const stored = await idb("readonly", (s) => s.get(deviceId));
    if (stored) return stored;
    const pair = await crypto.subtle.generateKey({name: "Ed25519"}, false, ["sign", "verify"]);
    const entry = {privateKey: pair.privateKey,
                   publicKey: b64url(await crypto.subtle.exportKey("raw", pair.publicKey)),
                   registered: false};
    await idb("readwrite", (s) => s.put(entry, deviceId));
    return entry;
  }

  // The key of this device id, registered with the server; null when signing is off.
  // A 409 means the server holds another key for this id (the key store was cleared):
  // the caller then takes a new device id.
  async function ready(url, csrf, deviceId) {
    if (cached && cached.deviceId === deviceId) return cached.key;
    if (!window.crypto || !crypto.subtle || !window.indexedDB) return null;
    let entry;
    try { entry = await keyFor(deviceId); } catch (err) { return null; }  // no Ed25519 here
    if (!entry.registered) {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify({device_id: deviceId, public_key: entry.publicKey}),
      });
      if (response.status === 409) return "conflict";
      if (!response.ok) return null;
      entry.registered = true;
      await idb("readwrite", (s) => s.put(entry, deviceId));
    }
    cached = {deviceId, key: entry};
    return entry;
  }

  async function sign(key, event) {
    const bytes = new TextEncoder().encode(canonical(event));
    const signature = await crypto.subtle.sign({name: "Ed25519"}, key.privateKey, bytes);
    return Object.assign({}, event, {signature: b64url(signature)});
  }

  return {ready, sign, canonical};
})();
