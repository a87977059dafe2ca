{% load static %}// The field app's service worker (scope /terrain/), version {{ version }}: keeps the app's
// files and the page for offline use (Workbox, served from our own static files), and sends
// the queued reports when the browser says the network is back (Background Sync).
importScripts(
  "{% static 'vendor/workbox/workbox-core.prod.js' %}",
  "{% static 'vendor/workbox/workbox-routing.prod.js' %}",
  "{% static 'vendor/workbox/workbox-strategies.prod.js' %}",
  "{% static 'vendor/workbox/workbox-precaching.prod.js' %}",
  "{% static 'vendor/idb-keyval/idb-keyval.umd.js' %}",
  "{% static 'field/queue.js' %}"
);
self.skipWaiting();
workbox.core.clientsClaim();
workbox.precaching.cleanupOutdatedCaches();
workbox.precaching.precacheAndRoute([{% for f in files %}
  {url: "{{ f }}", revision: {% if hashed %}null{% else %}"{{ version }}"{% endif %}}{% if not forloop.last %},{% endif %}{% endfor %}
]);
// The page: kept at installation, then from the network when it answers, else as last kept,
// so that the app opens offline on "Ma tournée" (the day's orders are in IndexedDB). The PDFs
// the page keeps (the route sheet, each order's) are read the same way.
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open("terrain-pages").then((cache) =>
    cache.add("{% url 'field_app' %}").catch(() => {})));
});
workbox.routing.registerRoute(
  ({url}) => url.pathname === "{% url 'field_app' %}" ||
    url.pathname.startsWith("/terrain/feuille-de-route/") || url.pathname.startsWith("/terrain/ordres/"),
  new workbox.strategies.NetworkFirst({
    cacheName: "terrain-pages", networkTimeoutSeconds: 8, matchOptions: {ignoreVary: true}
  })
);
self.addEventListener("sync", (event) => {
  if (event.tag === "envoyer") {
    event.waitUntil(sbeeQueue.sendAll("{% url 'field_send' %}", "{% url 'field_day' %}"));
  }
});
