// Sentinel Console: small progressive enhancements over htmx. CSP-safe: no eval, no inline handlers,
// no innerHTML; every page still works without this file.
(function () {
  "use strict";

  // Styles that only make sense with this file (e.g. hiding a form's no-JS submit button) key on this class.
  document.documentElement.classList.add("js");

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
    if (status >= 500) return "The console or the Sentinel service had a problem. Try again in a moment.";
    return "The request could not be completed. Reload the page and try again.";
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

  // (d) Selection kept across pages: the MDNs ticked in a device group's list live in sessionStorage (per tab),
  // so paging, searching or filtering by label keeps them; the bar counts them and sends them all.
  var SEL_PREFIX = "sentinel-console.selection.";
  var OFF_PAGE = "data-off-page";
  // Lines above which the selection is posted rather than put in the URL.
  var LONG_SELECTION = 200;

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function loadSel(corp) {
    var s = storage();
    if (!s || !corp) return [];
    try {
      var v = JSON.parse(s.getItem(SEL_PREFIX + corp) || "[]");
      return Array.isArray(v) ? v.filter(function (m) { return typeof m === "string"; }) : [];
    } catch (e) {
      return [];
    }
  }

  function saveSel(corp, mdns) {
    var s = storage();
    if (!s || !corp) return;
    try {
      if (mdns.length) s.setItem(SEL_PREFIX + corp, JSON.stringify(mdns));
      else s.removeItem(SEL_PREFIX + corp);
    } catch (e) { /* storage full or blocked: the selection stays per page */ }
  }

  function corpOf(form) {
    return form ? form.getAttribute("data-corp") : null;
  }

  function selectAllBox(form) {
    var el = form ? form.elements.namedItem("select_all") : null;
    return el instanceof HTMLInputElement ? el : null;
  }

  // The page's ticks are the truth for the page's lines; the memory keeps the others. In "all matching" mode
  // the ticks are that filter's exclusions, not a list, so the memory is left as it was.
  function remember(form) {
    var corp = corpOf(form);
    var all = selectAllBox(form);
    if (!corp || (all && all.checked)) return;
    var mem = loadSel(corp);
    rowBoxes(form).forEach(function (b) {
      var at = mem.indexOf(b.value);
      if (b.checked && at === -1) mem.push(b.value);
      else if (!b.checked && at !== -1) mem.splice(at, 1);
    });
    saveSel(corp, mem);
  }

  // After a swap: tick the remembered lines shown on this page.
  function restore(form) {
    var mem = loadSel(corpOf(form));
    rowBoxes(form).forEach(function (b) { b.checked = mem.indexOf(b.value) !== -1; });
  }

  // Keeps the page checkbox (checked / indeterminate) and any [data-selected-count] in step with the rows.
  function syncForm(form) {
    if (!form) return;
    var boxes = rowBoxes(form);
    var checked = boxes.filter(function (b) { return b.checked; }).length;
    // The count sits in the bar; look in the document.
    var toggles = document.querySelectorAll("[data-select-page]");
    for (var i = 0; i < toggles.length; i++) {
      toggles[i].checked = boxes.length > 0 && checked === boxes.length;
      toggles[i].indeterminate = checked > 0 && checked < boxes.length;
    }
    var count = checked;
    var all = selectAllBox(form);
    if (all && all.checked) {
      // Every matching line but the ones unticked on this page.
      var total = parseInt(all.getAttribute("data-total") || "", 10);
      if (!isNaN(total)) count = Math.max(0, total - (boxes.length - checked));
    } else if (corpOf(form)) {
      count = loadSel(corpOf(form)).length;
    }
    var counts = document.querySelectorAll("[data-selected-count]");
    for (var j = 0; j < counts.length; j++) counts[j].textContent = String(count);
    // The action bar shows only while lines are selected (on this page or remembered from others).
    var bar = document.getElementById("selection-bar");
    if (bar) {
      if (count > 0) bar.removeAttribute("data-none-selected");
      else bar.setAttribute("data-none-selected", "");
    }
  }

  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (!(el instanceof HTMLInputElement)) return;
    if (el.hasAttribute("data-select-page")) {
      rowBoxes(el.form).forEach(function (b) { b.checked = el.checked; });
    } else if (el.name === "select_all" && el.form && el.form.id === "selection-form") {
      // "All matching" starts from every line of this page ticked; unticking one then leaves it out.
      // Leaving that mode shows the remembered list again.
      if (el.checked) rowBoxes(el.form).forEach(function (b) { b.checked = true; });
      else restore(el.form);
    } else if (el.name !== "mdns") {
      return;
    }
    remember(el.form);
    syncForm(el.form);
  });

  // "clear" (a reset button) forgets every remembered line of the group; the form resets after this event.
  document.addEventListener("reset", function (evt) {
    var form = evt.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "selection-form") return;
    saveSel(corpOf(form), []);
    window.setTimeout(function () { syncForm(form); }, 0);
  });

  // Opening an action from the bar: the lines remembered from other pages go along as hidden `mdns` fields.
  // "All matching" is a filter, not a list, so it needs none.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.id === "confirm-form") {
      // The change is confirmed: its selection is done with.
      saveSel(form.getAttribute("data-corp"), []);
      return;
    }
    if (form.id !== "selection-form") return;
    var old = form.querySelectorAll("[" + OFF_PAGE + "]");
    for (var i = 0; i < old.length; i++) old[i].remove();
    var all = selectAllBox(form);
    if (all && all.checked) return;
    var onPage = rowBoxes(form).map(function (b) { return b.value; });
    var remembered = loadSel(corpOf(form));
    remembered.forEach(function (m) {
      if (onPage.indexOf(m) !== -1) return;
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "mdns";
      input.value = m;
      input.setAttribute(OFF_PAGE, "");
      form.appendChild(input);
    });
    // A long list does not fit in a URL (414): it travels in a POST body to the form's twin route.
    var button = evt.submitter;
    if (button && remembered.length > LONG_SELECTION) {
      var meta = document.querySelector('meta[name="csrf-token"]');
      var token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrf_token";
      token.value = meta ? meta.getAttribute("content") : "";
      token.setAttribute(OFF_PAGE, "");
      form.appendChild(token);
      // The server names the POST twin of each action's form (URLs are built in one place).
      var twin = button.getAttribute("data-form-action");
      if (twin) button.setAttribute("formaction", twin);
      button.setAttribute("formmethod", "post");
    }
  });

  // After htmx replaces rows (or a page loads), the boxes and counts must describe the remembered selection.
  function syncAll() {
    var done = document.querySelectorAll("#action-result[data-corp]");
    for (var k = 0; k < done.length; k++) saveSel(done[k].getAttribute("data-corp"), []);
    var form = document.getElementById("selection-form");
    if (form instanceof HTMLFormElement) {
      restore(form);
      syncForm(form);
    }
  }
  document.addEventListener("htmx:afterSettle", syncAll);
  document.addEventListener("DOMContentLoaded", syncAll);

  // (e) On a narrow screen the selection bar keeps to one line: its choices stay folded until asked for,
  // also after htmx replaces the bar (the user's last choice is kept for this page).
  var NARROW = "(max-width: 760px)";
  var barOpen = null;
  function foldBar() {
    if (!window.matchMedia || !window.matchMedia(NARROW).matches) return;
    var bars = document.querySelectorAll("details.selection-more");
    for (var i = 0; i < bars.length; i++) bars[i].open = barOpen === true;
  }
  // The header's menu: folded on a phone at each page load, open (its toggle hidden) on wide screens.
  function foldMenu() {
    var menu = document.getElementById("menu");
    if (menu && window.matchMedia) menu.open = !window.matchMedia(NARROW).matches;
  }
  foldMenu();
  window.addEventListener("resize", foldMenu);
  document.addEventListener("click", function (evt) {
    var t = evt.target;
    var summary = t instanceof Element ? t.closest("details.selection-more > summary") : null;
    if (summary && summary.parentElement) barOpen = !summary.parentElement.open;
  });
  document.addEventListener("htmx:afterSettle", foldBar);
  document.addEventListener("DOMContentLoaded", foldBar);

  // (f) The portal's look-up box: after a look-up its text is selected, so the next barcode scanned (or
  // typed) replaces it; focus never leaves the box.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var el = evt.target;
    if (!(el instanceof Element) || !(el.id === "portal-search" || el.closest("#portal-results"))) return;
    var box = document.getElementById("portal-q");
    if (box instanceof HTMLInputElement) {
      box.focus();
      box.select();
    }
  });

  // (g) "When": a scheduled time is typed in the user's own time zone; the offset the browser
  // uses for that very date (summer time included) goes along, so the server stores UTC.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!(form instanceof HTMLFormElement)) return;
    var at = form.querySelector("input[data-tz-offset-field]");
    if (!(at instanceof HTMLInputElement) || !at.value) return;
    var field = form.querySelector("input[name='" + at.getAttribute("data-tz-offset-field") + "']");
    var local = new Date(at.value);
    if (field instanceof HTMLInputElement && !isNaN(local.getTime())) {
      field.value = String(-local.getTimezoneOffset());
    }
    var later = form.querySelector("#when-later");
    if (later instanceof HTMLInputElement && !later.checked) at.value = "";
  }, true);
  // Typing a limit chooses "Set to" (data-sets-mode names that radio button).
  document.addEventListener("input", function (evt) {
    var t = evt.target;
    if (!(t instanceof HTMLInputElement) || !t.hasAttribute("data-sets-mode")) return;
    var set = document.getElementById(t.getAttribute("data-sets-mode") || "");
    if (set instanceof HTMLInputElement && t.value) set.checked = true;
  });
  // Typing a time chooses "at a date and time".
  document.addEventListener("input", function (evt) {
    var t = evt.target;
    if (!(t instanceof HTMLInputElement) || !t.hasAttribute("data-tz-offset-field")) return;
    var later = document.getElementById("when-later");
    if (later instanceof HTMLInputElement && t.value) later.checked = true;
  });
  // (h) <time data-local-time datetime="…Z" title="… UTC">: the text is UTC from the server; shown in the
  // reader's own time zone here, the UTC text kept as the hover title. Without this file the UTC text stays.
  var LOCAL_DONE = "data-local-shown";
  var localFormat = null;
  function localTimes(root) {
    if (!window.Intl || !Intl.DateTimeFormat) return;
    if (!localFormat) {
      try {
        localFormat = new Intl.DateTimeFormat(undefined, {
          year: "numeric", month: "short", day: "numeric",
          hour: "2-digit", minute: "2-digit", timeZoneName: "short"
        });
      } catch (e) { return; }
    }
    var scope = root && root.querySelectorAll ? root : document;
    var els = scope.querySelectorAll("time[data-local-time]:not([" + LOCAL_DONE + "])");
    for (var i = 0; i < els.length; i++) {
      var at = new Date(els[i].getAttribute("datetime") || "");
      if (isNaN(at.getTime())) continue;
      if (!els[i].getAttribute("title")) els[i].setAttribute("title", els[i].textContent);
      els[i].textContent = localFormat.format(at);
      els[i].setAttribute(LOCAL_DONE, "");
    }
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { localTimes(evt.target); });

  // (i) The device list from the keyboard: "/" focuses the search, j / k move through the rows, x ticks the
  // row, Enter opens it. Keys typed into a field are left alone.
  var current = -1;
  function listRows() {
    return document.querySelectorAll("table#devices tbody tr");
  }
  function markCurrent(rows) {
    for (var i = 0; i < rows.length; i++) rows[i].classList.toggle("is-current", i === current);
    if (rows[current]) rows[current].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (evt) {
    if (evt.ctrlKey || evt.metaKey || evt.altKey || evt.defaultPrevented) return;
    var t = evt.target;
    if (t instanceof Element && t.closest("input, textarea, select, [contenteditable]")) {
      if (evt.key === "Escape" && t.id === "search") t.blur();
      return;
    }
    var rows = listRows();
    if (evt.key === "/") {
      var search = document.getElementById("search");
      if (search) {
        evt.preventDefault();
        search.focus();
        search.select();
      }
      return;
    }
    if (!rows.length) return;
    if (evt.key === "j" || evt.key === "k") {
      current = Math.max(0, Math.min(rows.length - 1, current + (evt.key === "j" ? 1 : -1)));
      markCurrent(rows);
    } else if (evt.key === "x" && rows[current]) {
      var box = rows[current].querySelector("input[name=mdns]");
      if (box) {
        box.checked = !box.checked;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      }
    } else if (evt.key === "Enter" && rows[current]) {
      var link = rows[current].querySelector("td.col-mdn a");
      if (link) link.click();
    }
  });
  // New rows (a search, sort or page): start again from the top.
  document.addEventListener("htmx:afterSettle", function () { current = -1; });

  // (j) News of one's requests in the header: a badge that can be dismissed (remembered in this browser).
  var DISMISSED = "sentinel-console.dismissed-notices";
  function dismissed() {
    try { return JSON.parse(window.localStorage.getItem(DISMISSED) || "[]"); } catch (e) { return []; }
  }
  function hideDismissed() {
    var gone = dismissed();
    var notes = document.querySelectorAll("[data-notice]");
    for (var i = 0; i < notes.length; i++) {
      if (gone.indexOf(notes[i].getAttribute("data-notice")) !== -1) notes[i].remove();
    }
  }
  document.addEventListener("click", function (evt) {
    var t = evt.target;
    var btn = t instanceof Element ? t.closest(".notice-dismiss") : null;
    var note = btn ? btn.closest("[data-notice]") : null;
    if (!note) return;
    var gone = dismissed();
    gone.push(note.getAttribute("data-notice"));
    try { window.localStorage.setItem(DISMISSED, JSON.stringify(gone.slice(-50))); } catch (e) { /* kept for this page */ }
    note.remove();
  });
  document.addEventListener("htmx:afterSettle", hideDismissed);

  // Back/forward from an action form may restore the page from cache: re-read the memory.
  window.addEventListener("pageshow", function (evt) { if (evt.persisted) syncAll(); });
})();
