/* nfdi-launcher /v2/ loading page: start the build+launch stream at once, like BinderHub. */
"use strict";

(function () {
  const L = window.Launcher;
  const cfg = L.readConfig();
  const $ = (id) => document.getElementById(id);

  document.addEventListener("DOMContentLoaded", () => {
    if (cfg.error) {
      $("launch-status").textContent = cfg.error;
      $("launch-status").className = "status error";
      return;
    }
    L.runLaunch(cfg.build_url, cfg.urlpath || "", {
      phases: $("phases"),
      log: $("log"),
      status: $("launch-status"),
      failure: $("failure"),
      // "Choose another flavor" and "Launch something else" open the home form with this link
      actionContext: { base: cfg.base_url || "/", identifier: cfg.provider + "/" + cfg.spec,
                       note: "The build log below shows every step." },
      onTarget(target) {
        if (target && typeof target === "object") L.renderTarget(target);
      },
    });
  });
})();
