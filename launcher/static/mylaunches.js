/* nfdi-launcher home page, "My launches": the logged-in person's servers (GET /api/v1/servers),
 * each with its target, pinned ref, system, flavor, state and age, and Open / Stop buttons. */
"use strict";

(function (global) {
  const L = global.Launcher;
  const cfg = L.readConfig();
  const base = cfg.base_url || "/";
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 15000;
  const STOP_POLL_MS = 2000;
  const STOP_POLL_MAX = 90; // three minutes: a stop that takes longer is reported, not waited for

  function headers(extra) {
    // the login cookie counts for scripts only with the XSRF token (JupyterHub's rule)
    return Object.assign({ Accept: "application/json", "X-XSRFToken": cfg.xsrf_token || "" }, extra || {});
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
    return Math.floor(seconds / 86400) + " d";
  }

  function setStatus(text, cls) {
    const node = $("launches-status");
    node.textContent = text;
    node.className = "status" + (cls ? " " + cls : "");
    node.hidden = !text;
  }

  async function list() {
    const response = await fetch(base + "api/v1/servers", { headers: headers(), credentials: "same-origin" });
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) throw new Error((body && body.message) || response.statusText);
    return (body && body.launches) || [];
  }

  function row(entry) {
    const tr = L.el("tr", { class: "launch", "data-server": entry.server });
    const target = L.el("td", { class: "l-target" }, entry.identifier || entry.source);
    target.title = entry.source;
    tr.appendChild(target);
    const ref = L.el("td", { class: "l-ref" }, (entry.ref || "").slice(0, 12));
    ref.title = entry.ref || "";
    tr.appendChild(ref);
    tr.appendChild(L.el("td", { class: "l-system" }, entry.system));
    tr.appendChild(L.el("td", { class: "l-flavor" }, entry.flavor));
    tr.appendChild(L.el("td", { class: "l-state state-" + entry.state }, entry.state));
    tr.appendChild(L.el("td", { class: "l-age" }, age(entry.age_seconds)));
    const actions = L.el("td", { class: "l-actions" });
    const running = entry.state !== "stopped";
    const href = running ? entry.url : entry.relaunch_url;
    if (href && /^https?:\/\//.test(href)) {
      actions.appendChild(L.el("a", { class: "open", href: href }, running ? "Open" : "Launch again"));
    }
    if (entry.receipt_url && /^https?:\/\//.test(entry.receipt_url)) {
      // the signed record of what runs there: cite it, relaunch exactly it later
      actions.appendChild(L.el("a", { class: "receipt", href: entry.receipt_url }, "Receipt"));
    }
    if (entry.state !== "stopping") {
      const stop = L.el("button", { type: "button", class: "stop secondary" }, running ? "Stop" : "Remove");
      stop.addEventListener("click", () => stopServer(entry.server, stop));
      actions.appendChild(stop);
    }
    tr.appendChild(actions);
    return tr;
  }

  function render(entries) {
    const body = $("launches");
    body.textContent = "";
    for (const entry of entries) body.appendChild(row(entry));
    $("launches-table").hidden = entries.length === 0;
    setStatus(entries.length ? "" : "Nothing launched yet: paste an identifier above or click a badge.");
  }

  async function refresh() {
    try {
      const entries = await list();
      render(entries);
      return entries;
    } catch (e) {
      setStatus("Could not list your launches: " + e.message, "error");
      return null;
    }
  }

  async function stopServer(name, button) {
    button.disabled = true;
    const response = await fetch(base + "api/v1/servers/" + encodeURIComponent(name), {
      method: "DELETE",
      headers: headers(),
      credentials: "same-origin",
    });
    if (!response.ok && response.status !== 404) {
      let message = response.statusText;
      try {
        message = (await response.json()).message || message;
      } catch (e) {
        /* keep the status text */
      }
      setStatus("Could not stop " + name + ": " + message, "error");
      button.disabled = false;
      return;
    }
    const state = document.querySelector('tr.launch[data-server="' + CSS.escape(name) + '"] .l-state');
    if (state) state.textContent = "stopping";
    for (let i = 0; i < STOP_POLL_MAX; i++) {
      const entries = await refresh();
      if (entries && !entries.some((e) => e.server === name)) return;
      await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
    }
    setStatus(name + " is still stopping; the hub's log says why.", "error");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!$("my-launches")) return; // nobody logged in
    refresh();
    global.setInterval(() => {
      if (!document.hidden) refresh();
    }, REFRESH_MS);
  });
})(window);
