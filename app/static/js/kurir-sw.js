// Tepat courier service worker: the scan page opens without a network.
//
// The page itself (network first, the last copy when offline) and its static files
// (cache first, refreshed in the background) are kept; scans are never cached here:
// the page queues them in localStorage and sends them when the network is back.
"use strict";

const CACHE = "tepat-kurir-v4";
const STATIC = ["/static/css/tepat.css", "/static/js/kurir.js", "/static/js/kurir-sign.js", "/static/js/tepat.js",
                "/static/js/tepat-scan.js", "/static/js/kurir-tutup.js", "/static/vendor/jsqr/jsQR.js",
                "/static/favicon.svg"];
// Pages that must open without a network: the scan page and the KPPS closing page.
const PAGES = ["/kurir", "/kurir/tutup"];

function keepPage(cache, path, response) {
  // A sign-in redirect is no copy of the page: keep only the page itself.
  if (response.ok && !response.redirected) return cache.put(path, response);
  return Promise.resolve();
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(STATIC).then(() => Promise.all(PAGES.map(
        (path) => fetch(path, {credentials: "same-origin"})
          .then((response) => keepPage(cache, path, response))
          .catch(() => undefined)))))
      .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;  // scans and photos go to the network, always
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && PAGES.includes(url.pathname)) {
    const path = url.pathname;
    event.respondWith(
      fetch(request)
        .then((response) => {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => keepPage(cache, path, copy));
          return response;
        })
        .catch(() => caches.match(path).then((hit) => hit || Response.error())));
    return;
  }
  if (STATIC.includes(url.pathname)) {
    event.respondWith(
      caches.match(request).then((hit) => {
        const fresh = fetch(request).then((response) => {
          if (response.ok) caches.open(CACHE).then((cache) => cache.put(request, response.clone()));
          return response;
        });
        return hit || fresh;
      }));
  }
});
