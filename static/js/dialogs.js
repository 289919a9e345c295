/*
 * smarketing — action dialogs and dropdown menus. Vanilla JS, no dependencies, CSP-safe
 * (no eval, no inline styles).
 *
 *   <dialog data-dialog-autoshow>   opened as a modal as soon as it enters the page (htmx swaps
 *                                   one into a slot); focus goes to its first (invalid) field;
 *                                   once closed it is removed and focus returns to its opener
 *   [data-dialog-open="id"]         click → opens <dialog id="id"> as a modal
 *   [data-dialog-close]             click → closes the dialog it is in (without JS: a plain link)
 *   <details data-menu>              a menu: closes on Escape, on a click outside and once an item
 *                                   is chosen; only one is open at a time
 */
(function () {
  "use strict";

  if (window.smarketingDialogs) {
    return;
  }

  var FIELDS = "input:not([type='hidden']), select, textarea";
  var opener = null; // the element that asked for the dialog now open

  function firstField(root) {
    return root.querySelector("[aria-invalid='true']") ||
      root.querySelector("[autofocus]") ||
      root.querySelector("form:not([method='dialog']) :is(" + FIELDS + ")") ||
      root.querySelector("form:not([method='dialog']) button[type='submit']");
  }

  function show(dialog) {
    if (!dialog.open) {
      if (typeof dialog.showModal === "function") {
        dialog.showModal();
      } else {
        dialog.setAttribute("open", "");
      }
    }
    var field = firstField(dialog);
    if (field) {
      field.focus();
    }
  }

  function restoreFocus() {
    var target = opener && opener.isConnected ? opener : document.querySelector("[data-row].is-selected");
    opener = null;
    if (target && typeof target.focus === "function") {
      target.focus({ preventScroll: true });
    }
  }

  function closeDropdowns(except) {
    var open = document.querySelectorAll("details[data-menu][open]");
    for (var i = 0; i < open.length; i++) {
      if (open[i] !== except) {
        open[i].removeAttribute("open");
      }
    }
  }

  /* Something htmx swapped in: a new dialog opens; a form re-rendered inside an open dialog
     (its errors) gets the focus on the first invalid field. */
  function onLoad(event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || elt.nodeType !== 1) {
      return;
    }
    if (elt.matches("dialog[data-dialog-autoshow]")) {
      show(elt);
      return;
    }
    var dialog = elt.closest("dialog[open]");
    if (dialog) {
      var field = firstField(elt);
      if (field) {
        field.focus();
      }
    }
  }

  function onClick(event) {
    var el = event.target.closest ? event.target.closest("a, button, summary, [data-dialog-open]") : null;

    var outside = document.querySelectorAll("details[data-menu][open]");
    for (var i = 0; i < outside.length; i++) {
      if (!outside[i].contains(event.target)) {
        outside[i].removeAttribute("open");
      }
    }
    if (!el) {
      return;
    }
    if (el.hasAttribute("data-dialog-close")) {
      var dialog = el.closest("dialog");
      if (dialog) {
        event.preventDefault();
        dialog.close();
      }
      return;
    }
    if (el.hasAttribute("data-dialog-open")) {
      var target = document.getElementById(el.getAttribute("data-dialog-open"));
      if (target && target.tagName === "DIALOG") {
        event.preventDefault();
        opener = el;
        show(target);
      }
      return;
    }
    if (el.getAttribute("aria-haspopup") === "dialog") {
      opener = el.closest("details[data-menu]") ? el.closest("details[data-menu]").querySelector("summary") : el;
    }
    // An item chosen from a dropdown menu closes the menu (its own action has already run).
    var menu = el.closest(".dropdown-panel");
    if (menu && el.tagName !== "SUMMARY") {
      var details = menu.closest("details[data-menu]");
      if (details) {
        details.removeAttribute("open");
      }
    }
  }

  function onKeydown(event) {
    if (event.key === "Escape" && document.querySelector("details[data-menu][open]") &&
        !document.querySelector("dialog[open]")) {
      var open = document.querySelector("details[data-menu][open]");
      closeDropdowns(null);
      var summary = open.querySelector("summary");
      if (summary) {
        summary.focus();
      }
      event.preventDefault();
    }
  }

  function onToggle(event) {
    var details = event.target;
    if (details.matches && details.matches("details[data-menu]") && details.open) {
      closeDropdowns(details);
    }
  }

  function onClose(event) {
    var dialog = event.target;
    if (dialog.matches && dialog.matches("dialog[data-dialog-autoshow]")) {
      dialog.remove();
      restoreFocus();
    }
  }

  /* A successful action empties the dialog slot: the dialog leaves without a close event. */
  function onAfterSettle() {
    if (opener && !document.querySelector("dialog[open]") &&
        (document.activeElement === document.body || !document.activeElement)) {
      restoreFocus();
    }
  }

  function init() {
    document.addEventListener("htmx:load", onLoad);
    document.addEventListener("htmx:afterSettle", onAfterSettle);
    document.addEventListener("click", onClick);
    document.addEventListener("keydown", onKeydown);
    // "toggle" and "close" do not bubble: listen in the capture phase.
    document.addEventListener("toggle", onToggle, true);
    document.addEventListener("close", onClose, true);
    var waiting = document.querySelectorAll("dialog[data-dialog-autoshow]");
    for (var i = 0; i < waiting.length; i++) {
      show(waiting[i]);
    }
  }

  window.smarketingDialogs = { show: show };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
