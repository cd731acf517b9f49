/* nfdi-launcher home page: resolve an identifier, show its provenance, pick a resource,
 * copy the link and badges, and launch — by opening the very /v2/ link the share box shows
 * (built by the server), where the build log is followed and the login happens if needed. */
"use strict";

(function (global) {
  const L = global.Launcher;
  const cfg = L.readConfig();
  const base = cfg.base_url || "/";
  const $ = (id) => document.getElementById(id);
  let target = null;
  let shareSeq = 0; // only the newest snippets answer is shown

  function setStatus(text, cls) {
    const node = $("resolve-status");
    node.textContent = text;
    node.className = "status" + (cls ? " " + cls : "");
  }

  function fillSelect(select, items, selected) {
    select.textContent = "";
    for (const item of items) {
      const option = L.el("option", { value: item.name }, item.display_name || item.name);
      if (item.description) option.title = item.description;
      if (item.name === selected) option.selected = true;
      select.appendChild(option);
    }
    select.disabled = items.length === 0;
  }

  function systems() {
    return Array.isArray(cfg.systems) ? cfg.systems : [];
  }

  function updateFlavors() {
    const system = systems().find((s) => s.name === $("system").value);
    fillSelect($("flavor"), system && Array.isArray(system.flavors) ? system.flavors : [], cfg.default_flavor);
    // an HPC system: the user's projects (and the account each is used with)
    const projects = system && Array.isArray(system.projects) ? system.projects : [];
    fillSelect($("project"), projects.map((p, i) => ({
      name: String(i), display_name: p.project + " (account " + p.account + ")" })), "0");
    $("project-field").hidden = projects.length === 0;
    updateShare();
  }

  function project() {
    const system = systems().find((s) => s.name === $("system").value);
    const projects = system && Array.isArray(system.projects) ? system.projects : [];
    return projects[Number($("project").value)] || null;
  }

  function options() {
    const opts = { system: $("system").value || "", flavor: $("flavor").value || "" };
    const path = $("path").value.trim();
    if (path) {
      if ($("pathtype").value === "url") opts.urlpath = path;
      else opts.labpath = path;
    }
    return opts;
  }

  function renderTarget(t) {
    const ambiguous = L.renderTarget(t, (identifier) => {
      $("identifier").value = identifier;
      resolve();
    });
    $("options").hidden = ambiguous;
    $("share").hidden = ambiguous;
    $("launch-btn").disabled = ambiguous || Boolean(cfg.no_systems);
  }

  async function resolve() {
    const id = $("identifier").value.trim();
    if (!id) {
      setStatus("Paste an identifier first.", "error");
      return;
    }
    setStatus("Resolving…");
    $("failure").hidden = true;
    $("resolve-btn").disabled = true;
    target = null;
    try {
      const response = await fetch(base + "api/v1/resolve?id=" + encodeURIComponent(id), {
        headers: { Accept: "application/json" },
      });
      let body = null;
      try {
        body = await response.json();
      } catch (e) {
        body = null;
      }
      const usable = body && (body.launch_path || (body.choices || []).length);
      if (!response.ok || !usable) {
        const msg = body && (body.message || body.error) ? body.message || body.error : response.statusText;
        $("target").hidden = true;
        $("options").hidden = true;
        $("share").hidden = true;
        setStatus("Could not resolve.", "error");
        // the message for the person, prominently, with the obvious next step
        L.showFailure($("failure"), Object.assign({ next_action: "new_launch" }, body || {}, { message: msg }),
                      { base: base, identifier: id, home: true });
        return;
      }
      target = body;
      renderTarget(body);
      const ambiguous = (body.choices || []).length > 0;
      setStatus(ambiguous ? "Several candidates: pick one." : "Resolved.", ambiguous ? "" : "ok");
      updateShare();
    } catch (e) {
      setStatus("Could not reach the launcher: " + e, "error");
    } finally {
      $("resolve-btn").disabled = false;
    }
  }

  /* Fill the share box for the current options; resolves to the launch URL (or null). */
  async function updateShare() {
    if (!target || !target.launch_path) return null;
    const params = new URLSearchParams({ path: target.launch_path, ...options() });
    const seq = ++shareSeq;
    try {
      const response = await fetch(base + "api/v1/snippets?" + params.toString());
      if (!response.ok) return null;
      const s = await response.json();
      if (seq !== shareSeq) return null;
      $("share-url").value = s.url;
      $("snippet-markdown").value = s.markdown;
      $("snippet-rst").value = s.rst;
      $("snippet-html").value = s.html;
      $("badge-preview").src = s.badge_url;
      return s.url;
    } catch (e) {
      return null; /* the share panel keeps its previous content */
    }
  }

  async function launch() {
    if (!target || !target.launch_path || (target.choices || []).length) return;
    $("launch-btn").disabled = true;
    // the link of the options as they are now: the one the share box shows
    const shared = await updateShare();
    if (!shared) {
      setStatus("Could not make the launch link; try again.", "error");
      $("launch-btn").disabled = false;
      return;
    }
    const url = new URL(shared, global.location.href);
    const held = project(); // personal: in this launch only, never in the shared link
    if (held) {
      url.searchParams.set("project", held.project);
      url.searchParams.set("account", held.account);
    }
    global.location.assign(url.href);
  }

  document.addEventListener("DOMContentLoaded", () => {
    fillSelect($("system"), systems(), cfg.default_system);
    updateFlavors();
    if (cfg.no_systems) {
      // this person may launch nowhere: say why and where to ask, instead of a dead form
      $("no-systems").textContent = cfg.no_systems;
      $("no-systems").hidden = false;
      $("launch-btn").disabled = true;
    }
    $("project").addEventListener("change", updateShare);
    $("resolve-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      resolve();
    });
    $("system").addEventListener("change", updateFlavors);
    $("flavor").addEventListener("change", updateShare);
    $("path").addEventListener("change", updateShare);
    $("pathtype").addEventListener("change", updateShare);
    $("launch-btn").addEventListener("click", launch);
    document.querySelectorAll("button[data-copy]").forEach((button) => {
      button.addEventListener("click", () => L.copyText($(button.getAttribute("data-copy")).value, button));
    });
    if ($("identifier").value.trim()) resolve();
  });
})(window);
