/* The reports kept on the phone until the server has them (IndexedDB, through idb-keyval),
   and their sending, each by the identifier made on the phone. Shared by the field page and
   its service worker (Background Sync). */
(function (root) {
  "use strict";
  var kv = root.idbKeyval;
  var store = kv.createStore("sbee-terrain", "donnees");
  var PENDING = "pending";
  var sending = null;

  function put(report) {
    return kv.set("envoi:" + report.id, report, store);
  }
  function all() {
    return kv.entries(store).then(function (entries) {
      return entries
        .filter(function (e) { return String(e[0]).indexOf("envoi:") === 0; })
        .map(function (e) { return e[1]; })
        .sort(function (a, b) { return a.fait_le < b.fait_le ? -1 : 1; });
    });
  }
  function day() { return kv.get("jour", store); }
  function refreshDay(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) {
        var json = (r.headers.get("content-type") || "").indexOf("json") >= 0;
        if (r.redirected || !json) throw new Error("login");
        if (!r.ok) throw new Error("http " + r.status);
        return r.json();
      })
      .then(function (d) { return kv.set("jour", d, store).then(function () { return d; }); });
  }
  function sendOne(url, token, r) {
    var form = new FormData();
    form.append("id", r.id);
    form.append("nature", r.nature);
    form.append("ordre", r.ordre);
    form.append("champs", JSON.stringify(r.champs));
    form.append("fait_le", r.fait_le);
    if (r.position) {
      form.append("lat", r.position[0]);
      form.append("lon", r.position[1]);
      form.append("precision", r.position[2]);
    }
    if (r.photo) form.append("photo", r.photo, "index.jpg");
    return fetch(url, {
      method: "POST", body: form, credentials: "same-origin",
      headers: {"X-CSRFToken": token, Accept: "application/json"}
    }).then(function (resp) {
      var json = (resp.headers.get("content-type") || "").indexOf("json") >= 0;
      if (resp.redirected) throw new Error("login");
      if (!json || resp.status >= 500) throw new Error("http " + resp.status);
      return resp.json().then(function (a) {
        r.etat = a.resultat || "refused";
        r.message = a.message || "";
        r.recu_le = a.recu_le || "";
        return put(r);
      });
    });
  }
  // Everything waiting, one after the other; the day (and its token) fetched first. Reports
  // made under another login on this phone wait for it.
  function sendAll(sendUrl, dayUrl) {
    if (sending) return sending;
    sending = refreshDay(dayUrl).then(function (d) {
      return all().then(function (reports) {
        var chain = Promise.resolve(0);
        reports.forEach(function (r) {
          if (r.etat !== PENDING || r.agent !== d.agent) return;
          chain = chain.then(function (n) {
            return sendOne(sendUrl, d.jeton, r).then(function () { return n + 1; });
          });
        });
        // Then the day again: the orders just reported leave it.
        return chain.then(function (n) {
          return n ? refreshDay(dayUrl).then(function () { return n; }) : n;
        });
      });
    });
    sending.then(done, done);
    function done() { sending = null; }
    return sending;
  }
  function newId() {
    if (root.crypto && root.crypto.randomUUID) return root.crypto.randomUUID();
    var b = root.crypto.getRandomValues(new Uint8Array(16)), h = [];
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h.push((b[i] + 256).toString(16).slice(1));
    h = h.join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }
  root.sbeeQueue = {PENDING: PENDING, put: put, all: all, day: day, refreshDay: refreshDay,
    sendAll: sendAll, newId: newId};
})(self);
