// Progressive enhancement only: every page works without this file.
// Keyboard: "/" focuses search; "j" / "k" move between cards; Enter follows the focused card.
(function () {
  "use strict";
  var cards = function () { return Array.prototype.slice.call(document.querySelectorAll(".card-title a")); };
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) { return; }
    if (ev.key === "/") {
      var q = document.getElementById("site-q");
      if (q) { ev.preventDefault(); q.focus(); }
      return;
    }
    if (ev.key !== "j" && ev.key !== "k") { return; }
    var links = cards();
    if (!links.length) { return; }
    var i = links.indexOf(document.activeElement);
    i = ev.key === "j" ? Math.min(links.length - 1, i + 1) : Math.max(0, i - 1);
    links[i].focus();
    ev.preventDefault();
  });
}());
