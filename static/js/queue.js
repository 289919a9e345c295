/*
 * smarketing — working the lead queue by keyboard, and live first-touch clocks. Vanilla JS,
 * no dependencies, CSP-safe. Works beside shortcuts.js (which owns j / k / Enter and the help).
 *
 *   [data-row] [data-shortcut]   a shortcut defined inside rows (a: accept, t: log touch) acts on
 *                                the selected row; with no row selected, the key press selects the
 *                                first row offering it, so a key never acts on a row you cannot see
 *   row swaps                    a row htmx replaces keeps the selection; when the row left the
 *                                list (claimed, returned, closed) the selection moves to the next
 *   time[data-clock-due]         clocks re-render every 30 s: "2h 10m left", amber under a quarter
 *                                of the window (data-clock-start → due), "overdue 5m" in red;
 *                                [data-clock-done] clocks are left alone
 */
(function () {
  "use strict";

  if (window.smarketingQueue) {
    return;
  }

  var TICK_MS = 30000;
  var WARN_SHARE = 0.25;
  var pendingSwap = null;

  function isTyping(el) {
    if (!el || el.nodeType !== 1) {
      return false;
    }
    return el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
      !!el.isContentEditable;
  }

  function isUsable(el) {
    return !!el && !el.disabled && !el.closest("[hidden], [inert]") && el.getClientRects().length > 0;
  }

  function select(row, focus) {
    var selected = document.querySelectorAll("[data-row].is-selected");
    for (var i = 0; i < selected.length; i++) {
      if (selected[i] !== row) {
        selected[i].classList.remove("is-selected");
      }
    }
    row.classList.add("is-selected");
    if (!row.hasAttribute("tabindex")) {
      row.setAttribute("tabindex", "-1");
    }
    if (focus && !document.querySelector("dialog[open]")) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function keyOf(el) {
    return (el.getAttribute("data-shortcut") || "").trim();
  }

  function onKeydown(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) {
      return;
    }
    if (!event.key || event.key.length !== 1 || isTyping(event.target) || isTyping(document.activeElement)) {
      return;
    }
    if (document.querySelector("dialog[open]")) {
      return;
    }
    var key = event.key;
    var candidates = document.querySelectorAll("[data-row] [data-shortcut]");
    var wanted = null;
    for (var i = 0; i < candidates.length; i++) {
      var want = keyOf(candidates[i]);
      if (want === key || (!event.shiftKey && want === key.toLowerCase())) {
        wanted = want;
        break;
      }
    }
    if (!wanted) {
      return; // not a row shortcut: shortcuts.js handles it
    }
    event.preventDefault(); // shortcuts.js skips prevented events
    if (event.repeat) {
      return;
    }
    var row = document.querySelector("[data-row].is-selected");
    if (row) {
      var action = row.querySelector("[data-shortcut='" + wanted + "']");
      if (isUsable(action)) {
        action.click();
      }
      return;
    }
    for (var j = 0; j < candidates.length; j++) {
      if (keyOf(candidates[j]) === wanted && isUsable(candidates[j])) {
        select(candidates[j].closest("[data-row]"), true);
        return;
      }
    }
  }

  function nextRow(row) {
    var el = row.nextElementSibling;
    while (el && !el.matches("[data-row]")) {
      el = el.nextElementSibling;
    }
    return el;
  }

  function onBeforeSwap(event) {
    var target = event.detail && event.detail.target;
    if (target && target.matches && target.matches("[data-row].is-selected")) {
      var next = nextRow(target);
      pendingSwap = { id: target.id, next: next ? next.id : "" };
    }
  }

  function onAfterSettle() {
    if (!pendingSwap) {
      return;
    }
    var swap = pendingSwap;
    pendingSwap = null;
    var row = document.getElementById(swap.id);
    if (!row || !row.matches("[data-row]")) {
      row = swap.next ? document.getElementById(swap.next) : null;
    }
    if (row) {
      select(row, true);
    }
  }

  // --------------------------------------------------------------- clocks

  function duration(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    if (minutes < 1) {
      return "<1m";
    }
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days) {
      return days + "d " + hours + "h";
    }
    if (hours) {
      return hours + "h " + mins + "m";
    }
    return mins + "m";
  }

  function tick() {
    var now = Date.now();
    var clocks = document.querySelectorAll("time[data-clock-due]:not([data-clock-done])");
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var due = Date.parse(el.getAttribute("data-clock-due"));
      var start = Date.parse(el.getAttribute("data-clock-start"));
      if (isNaN(due)) {
        continue;
      }
      var left = due - now;
      var css;
      var text;
      if (left <= 0) {
        css = "sla-breach";
        text = "overdue " + duration(left);
      } else {
        css = !isNaN(start) && left < (due - start) * WARN_SHARE ? "sla-warn" : "sla-ok";
        text = duration(left) + " left";
      }
      if (!el.classList.contains(css)) {
        el.classList.remove("sla-ok", "sla-warn", "sla-breach");
        el.classList.add(css);
      }
      if (el.textContent !== text) {
        el.textContent = text;
      }
    }
  }

  function init() {
    // Capture phase: row shortcuts must be decided before shortcuts.js sees the key.
    document.addEventListener("keydown", onKeydown, true);
    document.addEventListener("htmx:beforeSwap", onBeforeSwap);
    document.addEventListener("htmx:afterSettle", onAfterSettle);
    window.setInterval(tick, TICK_MS);
  }

  window.smarketingQueue = { tick: tick };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
