// Sentinel Console: small progressive enhancements over htmx. CSP-safe: no eval, no inline handlers,
// no innerHTML; every page still works without this file.
(function () {
  "use strict";

  var CLIENT_FLASH = "data-client-flash";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  // Shows a message in #flash (built with textContent: server text is never parsed as HTML).
  function flash(kind, title, text) {
    var area = document.getElementById("flash");
    if (!area) return;
    clearClientFlash();
    var box = document.createElement("div");
    box.className = "alert alert-" + kind;
    box.setAttribute("role", "alert");
    box.setAttribute(CLIENT_FLASH, "");
    var strong = document.createElement("strong");
    strong.textContent = title;
    box.appendChild(strong);
    if (text) {
      var p = document.createElement("p");
      p.textContent = text;
      box.appendChild(p);
    }
    area.appendChild(box);
  }

  function clearClientFlash() {
    var old = document.querySelectorAll("#flash [" + CLIENT_FLASH + "]");
    for (var i = 0; i < old.length; i++) old[i].remove();
  }

  // An error response carries a usable fragment only when it is non-empty HTML.
  function hasFragment(xhr) {
    if (!xhr || !xhr.responseText || !xhr.responseText.trim()) return false;
    var type = xhr.getResponseHeader("Content-Type") || "";
    return type.indexOf("text/html") !== -1;
  }

  function statusMessage(xhr) {
    var status = xhr ? xhr.status : 0;
    if (status === 401 || status === 403) return "You are not allowed to do this, or your sign-in has expired. Reload the page to sign in again.";
    if (status >= 500) return "The console or the Sentinel service had a problem (HTTP " + status + "). Try again in a moment.";
    return "The request could not be completed (HTTP " + status + "). Reload the page and try again.";
  }

  // (a) Every htmx request carries the CSRF token (read each time: the page may have been re-rendered).
  document.addEventListener("htmx:configRequest", function (evt) {
    var token = csrfToken();
    if (token && evt.detail && evt.detail.headers) evt.detail.headers["X-CSRF-Token"] = token;
  });

  // A new user action makes earlier client-side error messages stale; polling (no triggering event) does not.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var cfg = evt.detail && evt.detail.requestConfig;
    if (cfg && cfg.triggeringEvent) clearClientFlash();
  });

  // (b) Errors without a server fragment: never swap an empty or non-HTML body into the page...
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var d = evt.detail;
    if (d && d.isError && !hasFragment(d.xhr)) d.shouldSwap = false;
  });

  // ...and say what happened instead.
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail && evt.detail.xhr;
    if (!hasFragment(xhr)) flash("error", "Something went wrong", statusMessage(xhr));
  });

  document.addEventListener("htmx:sendError", function () {
    flash("error", "No connection", "The console could not be reached. Check your connection and try again.");
  });

  document.addEventListener("htmx:timeout", function () {
    flash("warn", "Still waiting", "The console took too long to answer. Try again in a moment.");
  });

  // (c) [data-autosubmit]: submitting the form on change (the form keeps a submit button for no-JS use).
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (!(el instanceof Element) || !el.hasAttribute("data-autosubmit")) return;
    var form = el.form || el.closest("form");
    if (!form) return;
    // requestSubmit fires the submit event, so htmx (when the form is boosted) handles it.
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.submit();
  });

  // (c) "Select this page": [data-select-page] toggles every input[name=mdns] of its form.
  function rowBoxes(form) {
    var out = [];
    if (!form) return out;
    var els = form.elements;
    for (var i = 0; i < els.length; i++) {
      if (els[i].name === "mdns" && els[i].type === "checkbox" && !els[i].disabled) out.push(els[i]);
    }
    return out;
  }

  // Keeps the page checkbox (checked / indeterminate) and any [data-selected-count] in step with the rows.
  function syncForm(form) {
    if (!form) return;
    var boxes = rowBoxes(form);
    var checked = boxes.filter(function (b) { return b.checked; }).length;
    var toggles = form.querySelectorAll("[data-select-page]");
    for (var i = 0; i < toggles.length; i++) {
      toggles[i].checked = boxes.length > 0 && checked === boxes.length;
      toggles[i].indeterminate = checked > 0 && checked < boxes.length;
    }
    var counts = form.querySelectorAll("[data-selected-count]");
    for (var j = 0; j < counts.length; j++) counts[j].textContent = String(checked);
  }

  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (!(el instanceof HTMLInputElement)) return;
    if (el.hasAttribute("data-select-page")) {
      rowBoxes(el.form).forEach(function (b) { b.checked = el.checked; });
      syncForm(el.form);
    } else if (el.name === "mdns") {
      syncForm(el.form);
    }
  });

  // After htmx replaces rows, the page checkbox must describe the new rows.
  function syncAll() {
    var toggles = document.querySelectorAll("[data-select-page]");
    for (var i = 0; i < toggles.length; i++) syncForm(toggles[i].form);
  }
  document.addEventListener("htmx:afterSettle", syncAll);
  document.addEventListener("DOMContentLoaded", syncAll);
})();
