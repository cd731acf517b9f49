/* nfdi-launcher /receipt/<id> page: the citation's copy button (everything else is HTML). */
"use strict";

(function () {
  const L = window.Launcher;
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("copy-citation");
    const text = document.getElementById("citation");
    if (button && text) button.addEventListener("click", () => L.copyText(text.value, button));
  });
})();
