// The grid workbench's service worker (scope /grid/): the page shell (HTML, CSS, scripts)
// is kept on the phone so /grid/ opens, and reloads, with no signal; visit notes and
// confirmations written then wait in the outbox (localStorage, grid.js) until it returns.
// Only the shell is cached, never a resident's data: /api/ requests go to the network.
const CACHE = "huimin-grid-shell-v1";
const SHELL = ["/grid/", "/pages/static/pages.css", "/pages/static/care.js",
  "/pages/static/api.js", "/pages/static/grid.js"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

// Network first (a new release shows at once), the cached copy when the network fails.
// Every workbench page (/grid/, /grid/residents/<id>) is the same shell.
function shell(request, key) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(key).then(function (hit) { return hit || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (event.request.mode === "navigate" && url.pathname.indexOf("/grid/") === 0) {
    event.respondWith(shell(event.request, "/grid/"));
  } else if (SHELL.indexOf(url.pathname) >= 0) {
    event.respondWith(shell(event.request, url.pathname));
  }
});
