/* The requester's signature on the screen (step 3): signature_pad draws in the frame; the
   drawing goes to the hidden field as a PNG when the form is sent. Without JavaScript the frame
   stays hidden and the paper signature is confirmed alone. */
(function () {
  "use strict";
  document.querySelectorAll("[data-signature-for]").forEach(function (box) {
    var canvas = box.querySelector("canvas");
    var field = document.getElementById(box.getAttribute("data-signature-for"));
    if (!canvas || !field || typeof SignaturePad === "undefined") { return; }
    box.hidden = false;
    var pad = new SignaturePad(canvas, { penColor: "#0b2a4a" });
    function fit() {
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var data = pad.toData();
      canvas.width = canvas.offsetWidth * ratio;
      canvas.height = canvas.offsetHeight * ratio;
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
      pad.fromData(data);
    }
    window.addEventListener("resize", fit);
    fit();
    box.querySelector("[data-signature-clear]").addEventListener("click", function () {
      pad.clear();
      field.value = "";
    });
    function keep() {
      field.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
    }
    pad.addEventListener("endStroke", keep);  // kept as it is drawn
    field.form.addEventListener("submit", keep);
  });
})();
