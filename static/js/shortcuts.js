/*
 * smarketing — generic keyboard shortcuts. Vanilla JS, no dependencies, CSP-safe
 * (no eval, no inline styles; elements are built with DOM APIs and textContent).
 *
 *   data-shortcut="c"            press c → element is clicked (form fields are focused instead)
 *   data-shortcut-label="…"      description shown in the help dialog
 *   data-shortcut-seq="g q"      press g, then q within 1.5 s → element is clicked (nav links)
 *   [data-row]                   j / k move .is-selected + focus between rows, Enter opens the row's first link
 *   ?                            opens <dialog id="shortcut-help">, built from the page at open time
 *   [data-shortcut-help]         any element that opens the same dialog when clicked
 *
 * Keys are ignored while focus is in an input, textarea, select or contenteditable
 * element, and whenever Ctrl, Meta or Alt is held. Every lookup happens when a key is
 * pressed, so content swapped in by htmx works without re-binding.
 */
(function () {
  "use strict";

  if (window.smarketingShortcuts) {
    return; // loaded twice (e.g. boosted navigation): keep one set of listeners
  }

  var SEQUENCE_TIMEOUT_MS = 1500;
  var HELP_ID = "shortcut-help";

  var pending = null; // { key: "g", timer: id }
  var hintEl = null;
  var lastFocusBeforeHelp = null;

  // ---------------------------------------------------------------- helpers

  function isTypingTarget(el) {
    if (!el || el.nodeType !== 1) {
      return false;
    }
    var tag = el.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
      return true;
    }
    return !!el.isContentEditable;
  }

  function isFormField(el) {
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") {
      return true;
    }
    if (tag === "INPUT") {
      var type = (el.getAttribute("type") || "text").toLowerCase();
      return ["button", "submit", "reset", "image"].indexOf(type) === -1;
    }
    return false;
  }

  function isUsable(el) {
    if (!el || el.disabled || el.getAttribute("aria-disabled") === "true") {
      return false;
    }
    if (el.closest("[hidden], [inert]")) {
      return false;
    }
    // A link in a closed menu (the header's menus by area) counts when its menu can be opened.
    var menu = el.closest("details[data-menu]:not([open])");
    if (menu && el.tagName !== "SUMMARY") {
      var summary = menu.querySelector("summary");
      return !!summary && summary.getClientRects().length > 0;
    }
    // Not rendered (display:none ancestor, closed dialog or details) → no boxes.
    return el.getClientRects().length > 0;
  }

  /** The open modal dialog, if any: while one is open, only its contents respond. */
  function openModal() {
    var dialogs = document.querySelectorAll("dialog[open]");
    for (var i = dialogs.length - 1; i >= 0; i--) {
      var d = dialogs[i];
      var modal = false;
      try {
        modal = d.matches(":modal");
      } catch (err) {
        modal = true; // older browsers: treat any open dialog as the scope
      }
      if (modal) {
        return d;
      }
    }
    return null;
  }

  function scopeRoot() {
    return openModal() || document;
  }

  /** First usable element in scope whose attribute equals value. */
  function findByAttr(attr, value, root) {
    var nodes = (root || scopeRoot()).querySelectorAll("[" + attr + "]");
    for (var i = 0; i < nodes.length; i++) {
      if (normalise(nodes[i].getAttribute(attr)) === value && isUsable(nodes[i])) {
        return nodes[i];
      }
    }
    return null;
  }

  function normalise(value) {
    return (value || "").trim().replace(/\s+/g, " ");
  }

  /** Does this key press match the shortcut key `want`? Tolerates Caps Lock for letters. */
  function keyMatches(event, want) {
    if (event.key === want) {
      return true;
    }
    return !event.shiftKey && want.length === 1 && event.key.length === 1 &&
      event.key.toLowerCase() === want;
  }

  function findSingle(event) {
    var nodes = scopeRoot().querySelectorAll("[data-shortcut]");
    for (var i = 0; i < nodes.length; i++) {
      var want = normalise(nodes[i].getAttribute("data-shortcut"));
      if (want && keyMatches(event, want) && isUsable(nodes[i])) {
        return nodes[i];
      }
    }
    return null;
  }

  function sequencePrefixes() {
    var prefixes = {};
    var nodes = scopeRoot().querySelectorAll("[data-shortcut-seq]");
    for (var i = 0; i < nodes.length; i++) {
      var parts = normalise(nodes[i].getAttribute("data-shortcut-seq")).split(" ");
      if (parts.length > 1 && parts[0] && isUsable(nodes[i])) {
        prefixes[parts[0]] = true;
      }
    }
    return prefixes;
  }

  function activate(el) {
    if (isFormField(el)) {
      el.focus();
      if (typeof el.select === "function" && el.tagName !== "SELECT") {
        try {
          el.select();
        } catch (err) {
          /* some input types cannot be selected */
        }
      }
    } else {
      el.click();
    }
  }

  function describe(el) {
    var label = el.getAttribute("data-shortcut-label") || el.getAttribute("aria-label") ||
      el.getAttribute("title");
    if (!label && isFormField(el)) {
      if (el.labels && el.labels.length) {
        label = el.labels[0].textContent;
      } else {
        label = el.getAttribute("placeholder") || el.getAttribute("name");
      }
    }
    if (!label) {
      // Visible text, without any <kbd> hint inside the element.
      var clone = el.cloneNode(true);
      var kbds = clone.querySelectorAll("kbd, .kbd, .sr-only, [aria-hidden='true']");
      for (var i = 0; i < kbds.length; i++) {
        kbds[i].remove();
      }
      label = clone.textContent;
    }
    return normalise(label) || "(unlabelled)";
  }

  // ---------------------------------------------------------------- sequence hint

  function showHint(key) {
    if (!hintEl) {
      hintEl = document.createElement("div");
      hintEl.className = "shortcut-hint";
      hintEl.setAttribute("role", "status");
      hintEl.setAttribute("aria-live", "polite");
      document.body.appendChild(hintEl);
    }
    hintEl.textContent = "";
    var k = document.createElement("kbd");
    k.textContent = key;
    hintEl.appendChild(k);
    hintEl.appendChild(document.createTextNode(" then…"));
    hintEl.hidden = false;
  }

  function clearPending() {
    if (pending) {
      window.clearTimeout(pending.timer);
      pending = null;
    }
    if (hintEl) {
      hintEl.hidden = true;
    }
  }

  function startPending(key) {
    clearPending();
    pending = { key: key, timer: window.setTimeout(clearPending, SEQUENCE_TIMEOUT_MS) };
    showHint(key);
  }

  // ---------------------------------------------------------------- rows (j / k / Enter)

  function rows() {
    var all = scopeRoot().querySelectorAll("[data-row]");
    var out = [];
    for (var i = 0; i < all.length; i++) {
      if (isUsable(all[i])) {
        out.push(all[i]);
      }
    }
    return out;
  }

  function currentRow(list) {
    var active = document.activeElement;
    var row = active && active.closest ? active.closest("[data-row]") : null;
    if (row && list.indexOf(row) !== -1) {
      return row;
    }
    for (var i = 0; i < list.length; i++) {
      if (list[i].classList.contains("is-selected")) {
        return list[i];
      }
    }
    return null;
  }

  function selectRow(row) {
    var selected = document.querySelectorAll("[data-row].is-selected");
    for (var i = 0; i < selected.length; i++) {
      if (selected[i] !== row) {
        selected[i].classList.remove("is-selected");
        selected[i].removeAttribute("aria-selected");
      }
    }
    row.classList.add("is-selected");
    if (row.getAttribute("role") === "row" || row.getAttribute("role") === "option") {
      row.setAttribute("aria-selected", "true");
    }
    if (!row.hasAttribute("tabindex")) {
      row.setAttribute("tabindex", "-1");
    }
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function moveRow(step) {
    var list = rows();
    if (!list.length) {
      return false;
    }
    var current = currentRow(list);
    var index = current ? list.indexOf(current) + step : 0;
    index = Math.max(0, Math.min(list.length - 1, index));
    selectRow(list[index]);
    return true;
  }

  function openRow(row) {
    var link = row.querySelector("a[href]");
    if (!link) {
      return false;
    }
    link.click();
    return true;
  }

  // ---------------------------------------------------------------- help dialog

  function keyList(keys) {
    var frag = document.createDocumentFragment();
    keys.forEach(function (key, i) {
      if (i > 0) {
        var then = document.createElement("span");
        then.className = "shortcut-then muted";
        then.textContent = "then";
        frag.appendChild(then);
      }
      var k = document.createElement("kbd");
      k.textContent = key;
      frag.appendChild(k);
    });
    return frag;
  }

  function section(title, entries) {
    var wrap = document.createElement("section");
    wrap.className = "shortcut-section";
    var h = document.createElement("h3");
    h.textContent = title;
    wrap.appendChild(h);
    var dl = document.createElement("dl");
    dl.className = "shortcut-list";
    entries.forEach(function (entry) {
      var row = document.createElement("div");
      var dt = document.createElement("dt");
      dt.textContent = entry.label;
      var dd = document.createElement("dd");
      dd.appendChild(keyList(entry.keys));
      row.appendChild(dt);
      row.appendChild(dd);
      dl.appendChild(row);
    });
    wrap.appendChild(dl);
    return wrap;
  }

  function collect(attr, splitKeys) {
    var seen = {};
    var out = [];
    var nodes = document.querySelectorAll("[" + attr + "]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (el.closest("#" + HELP_ID)) {
        continue;
      }
      var value = normalise(el.getAttribute(attr));
      if (!value || seen[value] || !isUsable(el)) {
        continue;
      }
      seen[value] = true;
      out.push({ keys: splitKeys ? value.split(" ") : [value], label: describe(el) });
    }
    return out;
  }

  function buildHelp(dialog) {
    var container = dialog.querySelector("[data-shortcut-list]") || dialog;
    var actions = collect("data-shortcut", false);
    var nav = collect("data-shortcut-seq", true);
    var general = [];
    if (rows().length) {
      general.push({ keys: ["j"], label: "Next row" });
      general.push({ keys: ["k"], label: "Previous row" });
      general.push({ keys: ["Enter"], label: "Open selected row" });
    }
    general.push({ keys: ["?"], label: "Show this help" });
    general.push({ keys: ["Esc"], label: "Close dialog" });

    container.textContent = "";
    if (actions.length) {
      container.appendChild(section("On this page", actions));
    }
    if (nav.length) {
      container.appendChild(section("Go to", nav));
    }
    container.appendChild(section("General", general));
  }

  function helpDialog() {
    return document.getElementById(HELP_ID);
  }

  function openHelp() {
    var dialog = helpDialog();
    if (!dialog || dialog.open) {
      return false;
    }
    clearPending();
    buildHelp(dialog);
    lastFocusBeforeHelp = document.activeElement;
    if (typeof dialog.showModal === "function") {
      dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
    return true;
  }

  function closeHelp() {
    var dialog = helpDialog();
    if (!dialog || !dialog.open) {
      return false;
    }
    if (typeof dialog.close === "function") {
      dialog.close();
    } else {
      dialog.removeAttribute("open");
      restoreFocus();
    }
    return true;
  }

  function restoreFocus() {
    var el = lastFocusBeforeHelp;
    lastFocusBeforeHelp = null;
    if (el && el.isConnected && typeof el.focus === "function" && el !== document.body) {
      el.focus({ preventScroll: true });
    }
  }

  // ---------------------------------------------------------------- key handling

  function onKeydown(event) {
    if (event.defaultPrevented || event.isComposing || event.keyCode === 229) {
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      clearPending();
      return;
    }
    var key = event.key;
    if (!key || key === "Shift" || key === "CapsLock") {
      return; // a bare modifier neither triggers nor cancels anything
    }

    if (key === "Escape") {
      clearPending();
      if (closeHelp()) {
        event.preventDefault();
      }
      return;
    }

    if (isTypingTarget(event.target) || isTypingTarget(document.activeElement)) {
      clearPending();
      return;
    }

    var help = helpDialog();
    if (help && help.open) {
      if (key === "?") {
        event.preventDefault();
        closeHelp();
      }
      return; // the help dialog is modal: nothing behind it responds
    }

    // Second key of a sequence ("g" then "q").
    if (pending) {
      var prefix = pending.key;
      clearPending();
      var target = findByAttr("data-shortcut-seq", prefix + " " + (key.length === 1 ? key.toLowerCase() : key));
      if (target) {
        event.preventDefault();
        activate(target);
        return;
      }
      // Unknown follow-up: fall through and treat it as a fresh key press.
    }

    if (key === "?") {
      if (openHelp()) {
        event.preventDefault();
      }
      return;
    }

    // First key of a sequence.
    var first = key.length === 1 && !event.shiftKey ? key.toLowerCase() : key;
    if (!event.repeat && sequencePrefixes()[first]) {
      event.preventDefault();
      startPending(first);
      return;
    }

    // Page-defined single-key shortcuts win over the built-in row keys.
    var single = findSingle(event);
    if (single) {
      event.preventDefault();
      if (!event.repeat) { // holding a key must never fire an action twice
        activate(single);
      }
      return;
    }

    if (!event.shiftKey && (key === "j" || key === "J" || key === "k" || key === "K")) {
      if (moveRow(key.toLowerCase() === "j" ? 1 : -1)) {
        event.preventDefault();
      }
      return;
    }

    if (key === "Enter" && !event.repeat) {
      var target2 = event.target;
      var onRow = target2 && target2.matches && target2.matches("[data-row]");
      if (onRow || target2 === document.body || target2 === document.documentElement) {
        var row = onRow ? target2 : currentRow(rows());
        if (row && openRow(row)) {
          event.preventDefault();
        }
      }
    }
  }

  function onClick(event) {
    var opener = event.target.closest ? event.target.closest("[data-shortcut-help]") : null;
    if (opener) {
      event.preventDefault();
      openHelp();
    }
  }

  /** Clicking or tabbing into a row makes it the j/k starting point. */
  function onFocusIn(event) {
    var row = event.target.closest ? event.target.closest("[data-row]") : null;
    if (!row || row.classList.contains("is-selected")) {
      return;
    }
    var selected = document.querySelectorAll("[data-row].is-selected");
    for (var i = 0; i < selected.length; i++) {
      selected[i].classList.remove("is-selected");
      selected[i].removeAttribute("aria-selected");
    }
    row.classList.add("is-selected");
  }

  function onAfterSwap() {
    clearPending();
    // If the help dialog is open while content changes, refresh its list.
    var dialog = helpDialog();
    if (dialog && dialog.open) {
      buildHelp(dialog);
    }
  }

  /** If the nav scrolls sideways (narrow screens, many items), keep the current page in view. */
  function revealCurrentNav() {
    var current = document.querySelector(".app-nav [aria-current='page']");
    var list = current && current.closest("ul");
    if (list && list.scrollWidth > list.clientWidth) {
      var a = current.getBoundingClientRect();
      var l = list.getBoundingClientRect();
      list.scrollLeft += a.left - l.left - (l.width - a.width) / 2;
    }
  }

  function init() {
    revealCurrentNav();
    document.addEventListener("keydown", onKeydown);
    document.addEventListener("click", onClick);
    document.addEventListener("focusin", onFocusIn);
    document.addEventListener("htmx:afterSwap", onAfterSwap);
    // "close" does not bubble; listen in the capture phase so a swapped-in dialog still works.
    document.addEventListener("close", function (event) {
      if (event.target && event.target.id === HELP_ID) {
        restoreFocus();
      }
    }, true);
  }

  window.smarketingShortcuts = { openHelp: openHelp, closeHelp: closeHelp };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
