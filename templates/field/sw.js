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
  {url: "{{ f }}", revision: "{{ version }}"}{% if not forloop.last %},{% endif %}{% endfor %}
]);
// The page and the day's orders: kept at installation, then from the network when it answers,
// else as last kept. The app opens offline on "Ma tournée".
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open("terrain-pages").then((cache) =>
    cache.addAll(["{% url 'field_app' %}", "{% url 'field_day' %}"]).catch(() => {})));
});
workbox.routing.registerRoute(
  ({url}) => url.pathname === "{% url 'field_app' %}" || url.pathname === "{% url 'field_day' %}" ||
    url.pathname.startsWith("/terrain/feuille-de-route/"),
  new workbox.strategies.NetworkFirst({
    cacheName: "terrain-pages", networkTimeoutSeconds: 8, matchOptions: {ignoreVary: true}
  })
);
self.addEventListener("sync", (event) => {
  if (event.tag === "envoyer") {
    event.waitUntil(sbeeQueue.sendAll("{% url 'field_send' %}", "{% url 'field_day' %}"));
  }
});
