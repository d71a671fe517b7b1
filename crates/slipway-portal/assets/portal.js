// Slipway portal: progressive enhancement of server-rendered pages.
// Every page works without this file; it adds the workspace switcher's
// auto-submit, copy buttons, live status badges, live logs and the success banner.
"use strict";
(function () {
  // ---- ANSI colours (SGR) to spans ------------------------------------------
  var SGR = /\x1b\[([0-9;]*)m/g;
  var OTHER_ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;
  // Appends one line (text, or spans for its SGR colours) and its newline to `into`.
  function renderLine(into, text) {
    if (text.indexOf("\x1b") < 0) { into.appendChild(document.createTextNode(text + "\n")); return; }
    var state = [], last = 0, match;
    SGR.lastIndex = 0;
    function emit(chunk) {
      chunk = chunk.replace(OTHER_ESCAPES, "");
      if (!chunk) return;
      if (!state.length) { into.appendChild(document.createTextNode(chunk)); return; }
      var span = document.createElement("span");
      span.className = state.join(" ");
      span.textContent = chunk;
      into.appendChild(span);
    }
    while ((match = SGR.exec(text))) {
      emit(text.slice(last, match.index));
      last = SGR.lastIndex;
      var codes = match[1] === "" ? ["0"] : match[1].split(";");
      for (var i = 0; i < codes.length; i++) {
        var c = parseInt(codes[i], 10);
        if (c === 0) state = [];
        else if (c === 1) state.push("ansi-bold");
        else if (c === 2) state.push("ansi-dim");
        else if (c === 3) state.push("ansi-italic");
        else if (c === 4) state.push("ansi-underline");
        else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) { state = state.filter(function (s) { return s.indexOf("fg-") !== 0; }); state.push("fg-" + c); }
        else if (c === 39) state = state.filter(function (s) { return s.indexOf("fg-") !== 0; });
        else if (c >= 40 && c <= 47) { state = state.filter(function (s) { return s.indexOf("bg-") !== 0; }); state.push("bg-" + c); }
        else if (c === 49) state = state.filter(function (s) { return s.indexOf("bg-") !== 0; });
        else if (c === 38 || c === 48) { i += codes[i + 1] === "5" ? 2 : 4; } // 256/true colour: skipped, text kept
      }
    }
    emit(text.slice(last));
    into.appendChild(document.createTextNode("\n"));
  }

  // ---- a log view fed by SSE -------------------------------------------------
  // Lines are queued and written once per animation frame, so thousands of
  // lines a second cost one layout per frame, not one per line.
  var MAX_LINES = 50000;
  function LogView(box, src, onEnd) {
    this.box = box; this.src = src; this.onEnd = onEnd;
    this.queue = []; this.lastId = null; this.lines = 0; this.ended = false; this.scheduled = false;
    this.status = box.parentNode.querySelector("[data-log-state]");
    var self = this;
    box.addEventListener("scroll", function () {
      self.follow = box.scrollTop + box.clientHeight >= box.scrollHeight - 24;
    });
    this.follow = true;
    this.open();
  }
  LogView.prototype.setState = function (text) { if (this.status) this.status.textContent = text; };
  LogView.prototype.open = function () {
    var self = this;
    var url = this.src + (this.lastId !== null ? (this.src.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(this.lastId) : "");
    var es = new EventSource(url);
    this.es = es;
    this.setState("live");
    es.onmessage = function (event) {
      if (event.lastEventId) self.lastId = event.lastEventId;
      // One event carries the lines of a batch, one per line of its data.
      var lines = event.data.split("\n");
      for (var i = 0; i < lines.length; i++) self.queue.push(lines[i]);
      self.schedule();
    };
    es.addEventListener("reset", function () { self.queue = []; self.box.textContent = ""; self.lines = 0; self.kept = 0; });
    es.addEventListener("end", function (event) {
      self.ended = true; es.close();
      self.flush();
      self.setState("finished: " + event.data);
      if (self.onEnd) self.onEnd(event.data);
    });
    es.onerror = function () {
      if (self.ended) return;
      // Reconnect from the last line seen; the server skips what we have.
      es.close();
      self.setState("reconnecting…");
      setTimeout(function () { if (!self.ended && self.es === es) self.open(); }, 1000);
    };
  };
  // A network blip on demand (used by the browser test): drop the stream and resume.
  LogView.prototype.blip = function () { if (this.ended) return; this.es.close(); this.open(); };
  LogView.prototype.close = function () { this.ended = true; if (this.es) this.es.close(); };
  // The next frame, or 200 ms when there are no frames (a background tab),
  // so the queue never grows without bound.
  LogView.prototype.schedule = function () {
    if (this.scheduled) return;
    this.scheduled = true;
    var self = this;
    var run = function () { if (self.scheduled) { self.scheduled = false; self.flush(); } };
    requestAnimationFrame(run);
    setTimeout(run, 200);
  };
  // A batch becomes one block of text (colours as spans) rather than one
  // element per line: far fewer nodes for the browser to lay out and keep.
  LogView.prototype.flush = function () {
    if (!this.queue.length) return;
    var batch = this.queue; this.queue = [];
    // Lines that would be trimmed at once are not worth drawing.
    if (batch.length > MAX_LINES) { this.lines += batch.length - MAX_LINES; batch = batch.slice(batch.length - MAX_LINES); }
    var chunk = document.createElement("div");
    chunk.className = "log-chunk";
    for (var i = 0; i < batch.length; i++) renderLine(chunk, batch[i]);
    chunk.setAttribute("data-count", String(batch.length));
    this.box.appendChild(chunk);
    this.lines += batch.length;
    this.kept = (this.kept || 0) + batch.length;
    while (this.kept > MAX_LINES && this.box.firstChild) {
      this.kept -= Number(this.box.firstChild.getAttribute("data-count")) || 0;
      this.box.removeChild(this.box.firstChild);
    }
    if (this.follow) this.box.scrollTop = this.box.scrollHeight;
    this.box.setAttribute("data-lines", String(this.lines));
  };
  window.slipway = window.slipway || {};

  function badgeClass(status) {
    return { QUEUED: "queued", BUILDING: "working", DEPLOYING: "working", DEPLOYED: "deployed", FAILED: "failed" }[status] || "idle";
  }
  function setBadge(el, status) {
    if (el.getAttribute("data-status") === status) return;
    el.setAttribute("data-status", status);
    el.className = "badge " + badgeClass(status);
    el.textContent = status;
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Workspace switcher: choosing is going.
    document.querySelectorAll("form[data-switcher] select").forEach(function (select) {
      select.addEventListener("change", function () { if (select.value) location.href = "/w/" + encodeURIComponent(select.value); });
    });
    // Copy buttons.
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.classList.remove("hidden");
      button.addEventListener("click", function () {
        var text = button.getAttribute("data-copy");
        var done = function () { var old = button.textContent; button.textContent = "Copied"; setTimeout(function () { button.textContent = old; }, 1500); };
        if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, done);
        else { var area = document.createElement("textarea"); area.value = text; document.body.appendChild(area); area.select(); try { document.execCommand("copy"); } catch (e) {} area.remove(); done(); }
      });
    });
    // Forms: one submit at a time; confirmations for destructive actions.
    // Delegated, so forms drawn later (a refreshed history) behave the same.
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.matches || !form.matches("form[method=post]")) return;
      var question = form.getAttribute("data-confirm");
      if (question && !confirm(question)) { event.preventDefault(); return; }
      var button = form.querySelector("button[type=submit]");
      if (button) setTimeout(function () { button.disabled = true; }, 0);
    });
    // Redraws the history from a fresh copy of this page (statuses, Rollback buttons).
    function refreshHistory() {
      var history = document.getElementById("history");
      if (!history || !window.fetch || !window.DOMParser) return;
      fetch(location.pathname, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("history");
        if (fresh) history.innerHTML = fresh.innerHTML;
      }).catch(function () {});
    }

    // The build log of the current deployment, and the success banner.
    var build = document.getElementById("build-log");
    var banner = document.getElementById("deploy-banner");
    var currentBadge = document.querySelector("[data-current-badge]");
    function watchBuild(src, number) {
      if (window.slipway.build) window.slipway.build.close();
      build.textContent = "";
      build.setAttribute("data-number", number);
      var section = document.getElementById("build");
      if (section) section.classList.remove("hidden");
      var label = document.querySelector("[data-log-number]");
      if (label) label.textContent = "#" + number;
      window.slipway.build = new LogView(build, src, function (status) {
        if (currentBadge) setBadge(currentBadge, status);
        refreshHistory();
        if (status === "DEPLOYED" && banner) banner.classList.remove("hidden");
        if (status !== "DEPLOYED" && banner) banner.classList.add("hidden");
      });
    }
    if (build && build.getAttribute("data-src")) watchBuild(build.getAttribute("data-src"), build.getAttribute("data-number"));

    // Runtime logs.
    var runtime = document.getElementById("runtime-log");
    if (runtime) window.slipway.runtime = new LogView(runtime, runtime.getAttribute("data-src"));

    // Live badges: one status stream per workspace page.
    var statusEl = document.querySelector("[data-status-stream]");
    if (statusEl && window.EventSource) {
      var es = new EventSource(statusEl.getAttribute("data-status-stream"));
      es.addEventListener("status", function (event) {
        var all = JSON.parse(event.data);
        Object.keys(all).forEach(function (project) {
          var info = all[project];
          document.querySelectorAll('[data-project-badge="' + CSS.escape(project) + '"]').forEach(function (el) { setBadge(el, info.status); });
          // A new deployment (another tab, a git push): follow its log here.
          if (build && build.getAttribute("data-project") === project && info.number &&
              String(info.number) !== (build.getAttribute("data-number") || "")) {
            if (banner) banner.classList.add("hidden");
            if (currentBadge) setBadge(currentBadge, info.status);
            watchBuild(build.getAttribute("data-base") + info.number + "/logs", String(info.number));
          }
        });
      });
    }
  });
})();
