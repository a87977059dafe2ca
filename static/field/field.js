/* Ma tournée: the day's orders kept on the phone, reports taken without a network, kept until
   the server has them (queue.js), sent when the network returns or on "Synchroniser". */
(function () {
  "use strict";
  var root = document.getElementById("terrain");
  if (!root || !self.sbeeQueue) return;
  var Q = self.sbeeQueue, urls = root.dataset, agent = root.dataset.agent;
  var $ = function (id) { return document.getElementById(id); };
  var form = $("form-cr"), current = null, orders = [];
  var LABELS = {pending: "en attente d'envoi", accepted: "reçu et enregistré",
    refused: "refusé", conflict: "en conflit"};

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(urls.worker, {scope: "/terrain/"}).catch(function () {});
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function network() {
    $("reseau").textContent = navigator.onLine ? "Réseau disponible." :
      "Hors connexion : vos comptes-rendus sont gardés sur le téléphone.";
  }
  function render() {
    return Promise.all([Q.day(), Q.all()]).then(function (got) {
      var d = got[0], reports = got[1].filter(function (r) { return r.agent === agent; });
      orders = d && d.agent === agent ? d.ordres : [];
      $("charge").textContent = d ? "Tournée chargée le " + d.charge_le : "";
      var waiting = reports.filter(function (r) { return r.etat === Q.PENDING; });
      $("attente").textContent = waiting.length ? waiting.length +
        (waiting.length > 1 ? " comptes-rendus en attente d'envoi" :
          " compte-rendu en attente d'envoi") : "Aucun compte-rendu en attente d'envoi.";
      var list = $("ordres");
      list.textContent = "";
      orders.forEach(function (o) {
        var li = el("li"), queued = waiting.some(function (r) { return r.ordre === o.numero; });
        li.appendChild(el("strong", o.quartier + " – " + o.adresse));
        li.appendChild(el("span", " · " + o.client + " · contrat " + o.contrat));
        li.appendChild(el("div", o.travail + " · compteur " + o.compteur + " (" + o.chiffres +
          " chiffres) · dernier index " + o.dernier_index + " · ordre " + o.numero));
        if (queued) li.appendChild(el("div", "Compte-rendu en attente d'envoi", "hint"));
        var pdf = el("a", "Ordre (PDF)");
        pdf.href = o.pdf;
        li.appendChild(pdf);
        li.appendChild(document.createTextNode(" "));
        [["Saisir le compte-rendu", o.envoi], ["Visite infructueuse", "visite"]].forEach(
          function (b) {
            var button = el("button", b[0], b[1] === "visite" ? "secondary" : "");
            button.type = "button";
            button.addEventListener("click", function () { open(o, b[1]); });
            li.appendChild(button);
            li.appendChild(document.createTextNode(" "));
          });
        list.appendChild(li);
      });
      $("aucun").hidden = orders.length > 0;
      var toSign = (d && d.agent === agent && d.a_signer) || [], signList = $("a-signer");
      signList.textContent = "";
      toSign.forEach(function (c) {
        if (reports.some(function (r) { return r.nature === "signe" && r.ordre === c.numero &&
          r.etat === Q.PENDING; })) return;
        var li = el("li");
        li.appendChild(el("strong", "Ordre " + c.numero + " – " + c.adresse));
        li.appendChild(el("div", c.travail + " · " + c.client));
        li.appendChild(el("div", "Index " + c.index + " le " + c.le +
          (c.coupure !== null ? " · coupure à l'index " + c.coupure : "") +
          (c.remarques ? " · " + c.remarques : "") + " · saisi par " + c.saisi_par + " le " +
          c.saisi_le));
        var button = el("button", "Signer ce compte-rendu");
        button.type = "button";
        button.addEventListener("click", function () { signReport(c); });
        li.appendChild(button);
        signList.appendChild(li);
      });
      $("signer").hidden = signList.children.length === 0;
      var sent = $("envois");
      sent.textContent = "";
      reports.slice().reverse().forEach(function (r) {
        var what = r.nature === "visite" ? "visite infructueuse" :
          r.nature === "signe" ? "signature du compte-rendu" : "compte-rendu";
        var li = el("li", "Ordre " + r.ordre + " – " + what + " : " + (LABELS[r.etat] || r.etat));
        li.dataset.id = r.id;
        li.className = "envoi-" + r.etat;
        if (r.message) li.appendChild(el("div", r.message, r.etat === "accepted" ? "" : "error"));
        sent.appendChild(li);
      });
      ((d && d.envois) || []).forEach(function (s) {
        if (reports.some(function (r) { return r.id === s.id; })) return;
        var li = el("li", "Ordre " + s.ordre + " : " + s.libelle);
        li.appendChild(el("div", s.message, "error"));
        sent.appendChild(li);
      });
    });
  }
  function show(selector, visible) {
    form.querySelectorAll(selector).forEach(function (e) { e.hidden = !visible; });
  }
  function open(order, nature) {
    current = {order: order, nature: nature};
    form.reset();
    var now = new Date(), pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var today = now.getFullYear() + "-" + pad(now.getMonth() + 1) + "-" + pad(now.getDate());
    $("read_on").value = today;
    $("visited_on").value = today;
    var removal = nature === "depose", visit = nature === "visite";
    var cutting = nature === "releve" && order.nature === "interruption_reading";
    show(".releve,.depose,.coupure,.coupure-faite,.bt-depose,.mt-depose,.visite", false);
    show(visit ? ".visite" : removal ? ".depose" : ".releve", true);
    show(".coupure", cutting);
    show(".coupure-faite", cutting || removal);
    show(".bt-depose", removal && order.nature === "removal");
    show(".mt-depose", removal && order.nature === "final_interruption");
    $("saisie-ordre").textContent = (visit ? "Visite infructueuse" : order.travail) +
      " – ordre " + order.numero + ", " + order.adresse + " (dernier index " +
      order.dernier_index + ")";
    $("saisie-erreur").hidden = true;
    $("saisie").hidden = false;
    $("saisie").scrollIntoView();
    (visit ? form.querySelector("input[name=reason]") : $("index_read")).focus();
  }
  function fields(nature) {
    var data = new FormData(form), out = {};
    var names = nature === "visite" ? ["visited_on", "reason", "reason_detail"] :
      ["index_read", "read_on", "remarks_other"];
    names.forEach(function (n) { out[n] = (data.get(n) || "").trim(); });
    if (nature === "visite") return out;
    out.remarks = data.getAll("remarks");
    out.rollover_confirmed = !!data.get("rollover_confirmed");
    if (current.order.nature === "interruption_reading" || nature === "depose") {
      out.cut_done = $("cut_done").checked;
    }
    if (nature === "releve") {
      out.high_consumption_confirmed = !!data.get("high_consumption_confirmed");
      if (current.order.nature === "interruption_reading") out.cut_index = $("cut_index").value.trim();
    }
    if (current.order.nature === "removal") out.safety_steps_confirmed = data.getAll("safety_steps_confirmed");
    if (current.order.nature === "final_interruption") out.seal_number = $("seal_number").value.trim();
    return out;
  }
  function photo() {
    var file = $("photo").files[0];
    if (!file || current.nature === "visite") return Promise.resolve(null);
    return new Promise(function (resolve) {
      // Compressed on the phone, its date and position (EXIF) kept.
      new self.Compressor(file, {quality: 0.6, maxWidth: 1600, maxHeight: 1600, retainExif: true,
        mimeType: "image/jpeg", success: resolve, error: function () { resolve(file); }});
    });
  }
  function position() {
    if (!$("position").checked || !navigator.geolocation) return Promise.resolve(null);
    return new Promise(function (resolve) {
      navigator.geolocation.getCurrentPosition(function (p) {
        resolve([p.coords.latitude, p.coords.longitude, Math.round(p.coords.accuracy)]);
      }, function () { resolve(null); }, {timeout: 10000, maximumAge: 60000});
    });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var error = $("saisie-erreur");
    var missing = !$("confirm").checked ? "Cochez la case pour confirmer." :
      current.nature === "visite" && !form.querySelector("input[name=reason]:checked") ?
        "Choisissez le motif." :
      current.nature !== "visite" && !/^[0-9]+$/.test($("index_read").value.trim()) ?
        "Index relevé : saisissez les chiffres du compteur." : "";
    if (missing) { error.textContent = missing; error.hidden = false; return; }
    var report = {id: Q.newId(), agent: agent, nature: current.nature, ordre: current.order.numero,
      champs: fields(current.nature), fait_le: new Date().toISOString(), etat: Q.PENDING};
    Promise.all([photo(), position()]).then(function (got) {
      report.photo = got[0];
      report.position = got[1];
      return Q.put(report);
    }).then(function () {
      $("saisie").hidden = true;
      sendLater();
      return render();
    }).then(sync);
  });
  $("annuler").addEventListener("click", function () { $("saisie").hidden = true; });
  // A report entered for the agent from the paper: signed here, kept and sent like a report
  // (its identifier made on the phone), bound to the report shown.
  function signReport(c) {
    if (!self.confirm("Signer comme le vôtre le compte-rendu de l'ordre " + c.numero + " (index " +
      c.index + ") ? La signature ne pourra pas être reprise.")) return;
    Q.put({id: Q.newId(), agent: agent, nature: "signe", ordre: c.numero, champs: {cr: c.cr},
      fait_le: new Date().toISOString(), etat: Q.PENDING}).then(function () {
      sendLater();
      return render();
    }).then(sync);
  }
  function sync() {
    if (!navigator.onLine) return render();
    $("attente").textContent = "Envoi en cours…";
    return Q.sendAll(urls.send, urls.day).catch(function (e) {
      if (String(e.message) === "login") {
        $("reseau").textContent = "Session terminée : reconnectez-vous, vos comptes-rendus " +
          "restent sur le téléphone.";
      }
    }).then(render).then(function () {
      keepDocuments();
    });
  }
  // Background Sync, where the browser has it: the service worker sends the queue when the
  // network returns, even with the page closed.
  function sendLater() {
    if (!navigator.serviceWorker || !navigator.serviceWorker.ready) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync) return reg.sync.register("envoyer");
    }).catch(function () {});
  }
  // The day's route sheet and each order's PDF kept on the phone (the worker's cache, read by
  // it offline); each fetched once, those of orders no longer in the day dropped.
  function keepDocuments() {
    if (!self.caches) return null;
    var sheet = $("feuille").href, today = new Date().toDateString();
    var wanted = orders.map(function (o) { return new URL(o.pdf, location.href).href; });
    return caches.open("terrain-pages").then(function (cache) {
      function keep(url, always) {
        return cache.match(url, {ignoreVary: true}).then(function (kept) {
          if (kept && !always) return true;
          return fetch(url, {credentials: "same-origin"}).then(function (r) {
            if (!r.ok || (r.headers.get("content-type") || "").indexOf("pdf") < 0) return false;
            return cache.put(url, r).then(function () { return true; });
          }, function () { return false; });
        });
      }
      return cache.keys().then(function (keys) {
        keys.forEach(function (k) {
          if (k.url.indexOf("/terrain/ordres/") >= 0 && wanted.indexOf(k.url) < 0) cache.delete(k);
        });
        var chain = keep(sheet, localStorage.getItem("feuille") !== today).then(function (ok) {
          if (ok) localStorage.setItem("feuille", today);
        });
        wanted.forEach(function (url) { chain = chain.then(function () { return keep(url); }); });
        return chain;
      });
    }).catch(function () {});
  }
  $("synchroniser").addEventListener("click", sync);
  self.addEventListener("online", function () { network(); sync(); });
  self.addEventListener("offline", network);
  network();
  render().then(sync);
})();
