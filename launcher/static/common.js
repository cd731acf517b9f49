/* nfdi-launcher: shared browser code for the home form and the /v2/ loading page.
 *
 * Plain ES2017, no build step, no third-party code. Untrusted text (identifiers, specs,
 * log lines) is only ever written with textContent / value, never as HTML.
 */
"use strict";

(function (global) {
  const PHASES = ["waiting", "fetching", "building", "pushing", "built", "launching", "ready"];
  const MAX_LOG_LINES = 5000;

  function readConfig() {
    const app = document.getElementById("app");
    try {
      return JSON.parse(app.getAttribute("data-config") || "{}");
    } catch (e) {
      return {};
    }
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* BinderHub's precedence: labpath > filepath > urlpath. Returns a path relative to the
   * server URL (no leading slash), or "". */
  function launchUrlpath(params) {
    const trim = (s) => s.replace(/\/+$/, "");
    if (params.labpath) return "doc/tree/" + encodeURI(trim(params.labpath));
    if (params.filepath) return "tree/" + encodeURI(trim(params.filepath));
    return params.urlpath || "";
  }

  /* The URL to send the browser to once the server is ready: `urlpath` resolved against the
   * server URL like BinderHub's client, but never leaving the server (no other origin, no
   * path outside the server's prefix, no javascript: or other schemes). */
  function redirectUrl(serverUrl, token, urlpath) {
    let server;
    try {
      server = new URL(serverUrl, global.location.href);
    } catch (e) {
      return null;
    }
    if (server.protocol !== "http:" && server.protocol !== "https:") return null;
    if (!server.pathname.endsWith("/")) server.pathname += "/";
    let target = new URL(server.href);
    const rel = String(urlpath || "").replace(/^[\/\\\s]+/, "");
    if (rel) {
      try {
        const candidate = new URL(rel, server.href);
        if (candidate.origin === server.origin && candidate.pathname.startsWith(server.pathname)) {
          target = candidate;
        }
      } catch (e) {
        /* keep the server URL */
      }
    }
    if (token) target.searchParams.set("token", token);
    return target.href;
  }

  class PhaseView {
    constructor(listNode) {
      this.list = listNode;
      this.current = null;
      for (const phase of PHASES) {
        this.list.appendChild(el("li", { "data-phase": phase, class: "phase" }, phase));
      }
    }
    set(phase) {
      const index = PHASES.indexOf(phase);
      if (index < 0) return;
      this.current = phase;
      this.list.querySelectorAll("li.phase").forEach((li) => {
        const i = PHASES.indexOf(li.getAttribute("data-phase"));
        li.classList.toggle("done", i < index || phase === "ready");
        li.classList.toggle("active", i === index && phase !== "ready");
        li.classList.remove("failed");
      });
    }
    fail() {
      const phase = this.current || PHASES[0];
      const li = this.list.querySelector('li[data-phase="' + phase + '"]');
      if (li) {
        li.classList.remove("active");
        li.classList.add("failed");
      }
    }
  }

  class LogView {
    constructor(preNode) {
      this.pre = preNode;
      this.lines = 0;
    }
    append(text, cls) {
      let line = String(text);
      if (!line.endsWith("\n")) line += "\n";
      const span = el("span", cls ? { class: cls } : {}, line);
      this.pre.appendChild(span);
      this.lines += 1;
      if (this.lines > MAX_LOG_LINES) {
        this.pre.removeChild(this.pre.firstChild);
        this.lines -= 1;
      }
      this.pre.scrollTop = this.pre.scrollHeight;
    }
  }

  /* Follow one BinderHub event stream. Calls handlers.event(data) for every event and
   * exactly one of handlers.ready(data) / handlers.failed(data) (the failed event: message,
   * reason, next_action, request_id). Returns a stop function. */
  function followBuild(buildUrl, handlers) {
    let done = false;
    const source = new EventSource(buildUrl);
    const finish = (fn, arg) => {
      if (done) return;
      done = true;
      source.close();
      fn(arg);
    };
    source.onmessage = (msg) => {
      let data;
      try {
        data = JSON.parse(msg.data);
      } catch (e) {
        data = { phase: "unknown", message: msg.data };
      }
      if (typeof data !== "object" || data === null) return;
      const phase = String(data.phase || "").toLowerCase();
      data.phase = phase;
      handlers.event(data);
      if (phase === "ready") finish(handlers.ready, data);
      else if (phase === "failed") finish(handlers.failed, data);
    };
    source.onerror = () => {
      finish(handlers.failed, { message: "Lost the connection to the launcher. Try again.",
                                next_action: "try_again" });
    };
    return () => {
      done = true;
      source.close();
    };
  }

  /* Run a build+launch and show it in the given nodes; on ready, go to the server. */
  function runLaunch(buildUrl, urlpath, nodes) {
    const phases = new PhaseView(nodes.phases);
    const log = new LogView(nodes.log);
    nodes.status.textContent = "Starting…";
    nodes.status.className = "status";
    return followBuild(buildUrl, {
      event(data) {
        if (data.target && nodes.onTarget) nodes.onTarget(data.target);
        if (data.phase) phases.set(data.phase);
        if (data.phase && PHASES.includes(data.phase)) {
          nodes.status.textContent = data.phase.charAt(0).toUpperCase() + data.phase.slice(1) + "…";
          document.title = data.phase + " · nfdi-launcher";
        }
        if (data.message) log.append(data.message, data.phase === "failed" ? "error" : "");
      },
      ready(data) {
        // start-url hand-off: the hub's own start API takes over (login, server reuse)
        const dest = data.handoff === "start-url" && data.redirect
          ? redirectUrl(data.url, "", "")
          : redirectUrl(data.url, data.token, urlpath);
        if (!dest) {
          nodes.status.textContent = "The launcher returned an unusable server URL.";
          nodes.status.className = "status error";
          phases.fail();
          return;
        }
        const rl = data.relaunch;
        // a relaunch that could not run the receipt's exact image says so and waits for a click
        const changed = rl && rl.rebuilt && !rl.digest_matches;
        nodes.status.textContent = changed
          ? "The receipt's image was gone and has been rebuilt from the pinned ref: the same content, " +
            "but another image digest (" + (rl.new_digest || "unknown") + ")."
          : "Ready: opening your server…";
        nodes.status.className = changed ? "status error" : "status ok";
        if (data.receipt_url) {
          // the receipt of this launch: cite it, relaunch exactly this later
          nodes.status.appendChild(document.createTextNode(" "));
          nodes.status.appendChild(el("a", { id: "receipt-link", href: data.receipt_url }, "Receipt"));
        }
        if (changed) {
          nodes.status.appendChild(document.createTextNode(" "));
          nodes.status.appendChild(el("a", { id: "continue-link", href: dest }, "Continue to the server"));
          return;
        }
        global.location.assign(dest);
      },
      failed(data) {
        const message = String(data.message || "The launch failed.").trim();
        if (nodes.onFailed) nodes.onFailed(message);
        phases.fail();
        // with a failure box the message is shown there, prominently, with its button
        nodes.status.textContent = nodes.failure ? "Failed." : "Failed: " + message;
        nodes.status.className = "status error";
        if (nodes.failure) showFailure(nodes.failure, data, nodes.actionContext || {});
        document.title = "failed · nfdi-launcher";
      },
    });
  }

  /* The next step after a failure (next_action of the failed event) and its button label. */
  const NEXT_ACTIONS = {
    my_launches: "My launches",
    choose_flavor: "Choose another flavor",
    try_again: "Try again",
    new_launch: "Launch something else",
    log_in: "Log in",
  };

  /* Where the next-action button leads; ctx = {base, identifier} of the launch, and
   * home: true on the home page itself (its own form and list). */
  function nextActionUrl(action, ctx) {
    const home = ctx.home ? "" : ctx.base || "/";
    const withId = ctx.identifier ? home + "?id=" + encodeURIComponent(ctx.identifier) : home;
    if (action === "my_launches") return home + "#my-launches";
    if (ctx.home && action === "new_launch") return "#identifier";
    if (action === "choose_flavor" || action === "new_launch") return withId;
    return global.location.href; // try_again, log_in: the same link once more
  }

  /* Show a failed event in the failure box (templates/_failure.html), as text only. */
  function showFailure(box, data, ctx) {
    const action = NEXT_ACTIONS[data.next_action] ? data.next_action : "try_again";
    box.querySelector("#failure-message").textContent = String(data.message || "The launch failed.").trim();
    const button = box.querySelector("#next-action");
    button.textContent = NEXT_ACTIONS[action];
    button.setAttribute("href", nextActionUrl(action, ctx));
    button.setAttribute("data-action", action);
    box.querySelector("#failure-note").textContent = ctx.note || "";
    box.setAttribute("data-reason", String(data.reason || ""));
    box.hidden = false;
  }

  /* The provenance chain as <li> items: from -> via -> to, all as text. */
  function renderChain(listNode, chain) {
    listNode.textContent = "";
    for (const hop of chain || []) {
      const li = el("li", { class: "hop" });
      li.appendChild(el("span", { class: "hop-from" }, hop.from));
      li.appendChild(el("span", { class: "hop-via" }, hop.via));
      li.appendChild(el("span", { class: "hop-to" }, hop.to));
      listNode.appendChild(li);
    }
  }

  const PROVENANCE_LABELS = {
    doi: "DOI", record: "Record", git_url: "Git repository", git_tag: "Git tag",
    git_commit: "Commit", git_ref: "Git ref", git_tag_object: "Git tag object", swhid: "SWHID",
  };

  /* Extra facts of the resolution (Git tag and commit behind a Zenodo release, ...). */
  function renderProvenance(dlNode, provenance) {
    dlNode.textContent = "";
    for (const [key, value] of Object.entries(provenance || {})) {
      dlNode.appendChild(el("dt", {}, PROVENANCE_LABELS[key] || key));
      dlNode.appendChild(el("dd", { "data-key": key }, value));
    }
  }

  /* Fill the target card (templates/target_card.html) with a resolved target and show it.
   * onChoice(identifier) is called when a candidate of an ambiguous identifier is picked.
   * Returns true when the target is ambiguous (not launchable until one is picked). */
  function renderTarget(t, onChoice) {
    const $ = (id) => document.getElementById(id);
    $("target-title").textContent = t.title || t.identifier || "";
    $("t-identifier").textContent = t.identifier || "";
    $("t-kind").textContent = t.kind ? t.kind + " (" + t.provider + ")" : "";
    $("t-source").textContent = t.source || "";
    $("t-ref").textContent = t.ref || "(not pinned yet: pick a candidate below)";
    renderChain($("chain"), t.chain);
    renderProvenance($("provenance"), t.provenance);
    const warnings = $("warnings");
    warnings.textContent = "";
    for (const w of t.warnings || []) warnings.appendChild(el("li", {}, w));
    const choices = $("choice-list");
    choices.textContent = "";
    for (const c of t.choices || []) {
      const button = el("button", { type: "button", class: "choice" }, c.label || c.identifier);
      button.title = c.identifier;
      if (onChoice) button.addEventListener("click", () => onChoice(c.identifier));
      const li = el("li", {});
      li.appendChild(button);
      if (c.reason) li.appendChild(el("span", { class: "reason" }, c.reason));
      choices.appendChild(li);
    }
    const ambiguous = (t.choices || []).length > 0;
    $("choices").hidden = !ambiguous;
    $("target").hidden = false;
    return ambiguous;
  }

  function copyText(text, button) {
    const done = () => {
      const old = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => (button.textContent = old), 1500);
    };
    if (navigator.clipboard && global.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    } else {
      fallbackCopy(text, done);
    }
  }

  function fallbackCopy(text, done) {
    const area = el("textarea", { class: "offscreen", readonly: "" });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
      done();
    } finally {
      document.body.removeChild(area);
    }
  }

  global.Launcher = {
    PHASES,
    readConfig,
    el,
    launchUrlpath,
    redirectUrl,
    followBuild,
    runLaunch,
    showFailure,
    nextActionUrl,
    renderChain,
    renderProvenance,
    renderTarget,
    copyText,
  };
})(window);
