/* Progressive enhancement of the forms drawn by app/formkit/render.py. No framework, no inline
   code (the CSP is script-src 'self'); without this file every field shows and the server
   still checks everything.

   1. Conditions. A wrapper with data-show-when holds a field that a condition makes required:
      it shows only while one of its tests holds, and its inputs are disabled while hidden so
      that a stale answer is not sent. data-required-when only shows the "*" marker and sets
      aria-required. A test is {"field": name, "equals"|"contains": value} or
      {"field": name, "in": [values]} or {"field": name, "filled": true}; values are the
      strings the inputs hold ("true"/"false" for yes/no).
   2. Repeatable groups (data-fk-group). "Ajouter" clones the group's <template> row, replacing
      the placeholder name and id (data-fk-name, data-fk-id, ending in "__new__") with the next
      row number; "Retirer" removes its row. The spare empty row drawn for browsers without
      JavaScript (data-fk-spare) is removed. Rows are renumbered for display only: the server
      orders rows by their numbers and ignores the gaps. */
(function () {
  "use strict";

  var PLACEHOLDER = "__new__";

  function parseTests(text) {
    try {
      var tests = JSON.parse(text);
      return Array.isArray(tests) ? tests : [tests];
    } catch (error) {
      return null; // unreadable: treat the field as unconditional
    }
  }

  function valuesOf(scope, name) {
    var values = [];
    scope.querySelectorAll('[name="' + CSS.escape(name) + '"]').forEach(function (control) {
      if (control.disabled) return;
      if ((control.type === "radio" || control.type === "checkbox") && !control.checked) return;
      values.push(control.value.trim());
    });
    return values;
  }

  function holds(scope, test) {
    var values = valuesOf(scope, test.field);
    if ("equals" in test) return values.indexOf(test.equals) !== -1;
    if ("contains" in test) return values.indexOf(test.contains) !== -1;
    if ("in" in test) return values.some(function (v) { return test.in.indexOf(v) !== -1; });
    if (test.filled) return values.some(function (v) { return v !== ""; });
    return true;
  }

  function anyHolds(scope, text) {
    var tests = parseTests(text);
    return tests === null || tests.some(function (test) { return holds(scope, test); });
  }

  // The elements of this wrapper (itself included: a radio group's fieldset carries its own
  // aria-required), not those of a conditional wrapper nested in it.
  function own(wrapper, selector) {
    var found = Array.prototype.slice.call(wrapper.querySelectorAll(selector));
    if (wrapper.matches(selector)) found.push(wrapper);
    return found.filter(function (element) {
      return element.closest("[data-show-when], [data-required-when]") === wrapper;
    });
  }

  function applyConditions() {
    // Document order: an outer wrapper is settled before the wrappers inside it. Two passes
    // settle a condition that depends on a field shown by a later one.
    for (var pass = 0; pass < 2; pass += 1) {
      document.querySelectorAll("[data-show-when], [data-required-when]").forEach(function (wrapper) {
        var scope = wrapper.closest("form") || document;
        var showWhen = wrapper.getAttribute("data-show-when");
        var requiredWhen = wrapper.getAttribute("data-required-when");
        var insideHidden = wrapper.parentElement && wrapper.parentElement.closest("[hidden]");
        var shown = !showWhen || anyHolds(scope, showWhen);
        if (showWhen) {
          wrapper.hidden = !shown;
          wrapper.querySelectorAll("input, select, textarea").forEach(function (control) {
            control.disabled = !shown || Boolean(insideHidden);
          });
        }
        var required = (showWhen && shown) || Boolean(requiredWhen && anyHolds(scope, requiredWhen));
        own(wrapper, "[data-fk-marker]").forEach(function (marker) { marker.hidden = !required; });
        own(wrapper, "[data-fk-required]").forEach(function (control) {
          control.setAttribute("aria-required", required ? "true" : "false");
        });
      });
    }
  }

  function rowsOf(group) {
    var container = group.querySelector(":scope > [data-fk-rows]");
    return container ? Array.prototype.slice.call(container.children) : [];
  }

  // Replace `from` by `to` in every attribute, nested row templates included.
  function rename(root, from, to) {
    root.querySelectorAll("*").forEach(function (element) {
      Array.prototype.forEach.call(element.attributes, function (attribute) {
        if (attribute.value.indexOf(from) !== -1) {
          attribute.value = attribute.value.split(from).join(to);
        }
      });
      if (element.tagName === "TEMPLATE") rename(element.content, from, to);
    });
  }

  function refreshGroup(group) {
    var rows = rowsOf(group);
    rows.forEach(function (row, index) {
      row.querySelectorAll("[data-fk-number]").forEach(function (number) {
        if (number.closest("[data-fk-row]") === row) number.textContent = String(index + 1);
      });
    });
    var max = parseInt(group.getAttribute("data-fk-max"), 10);
    var add = group.querySelector(":scope > [data-fk-add]");
    if (add) add.disabled = !isNaN(max) && rows.length >= max;
  }

  function addRow(group) {
    var template = group.querySelector(":scope > template[data-fk-template]");
    var container = group.querySelector(":scope > [data-fk-rows]");
    if (!template || !container) return;
    var next = parseInt(group.getAttribute("data-fk-next"), 10) || 0;
    var name = group.getAttribute("data-fk-name");
    var id = group.getAttribute("data-fk-id");
    var fragment = template.content.cloneNode(true);
    rename(fragment, name, name.slice(0, -PLACEHOLDER.length) + next);
    rename(fragment, id, id.slice(0, -PLACEHOLDER.length) + next);
    fragment.querySelectorAll("[data-fk-add], [data-fk-remove]").forEach(function (button) {
      button.hidden = false;
    });
    var row = fragment.firstElementChild;
    container.appendChild(fragment);
    group.setAttribute("data-fk-next", String(next + 1));
    refreshGroup(group);
    applyConditions();
    var first = row && row.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  function removeRow(row) {
    var group = row.closest("[data-fk-group]");
    row.remove();
    if (rowsOf(group).length === 0) addRow(group); // keep one row to fill in
    refreshGroup(group);
    applyConditions();
    var add = group.querySelector(":scope > [data-fk-add]");
    if (add) add.focus();
  }

  // The empty row drawn for browsers without JavaScript, unless something was typed in it.
  function removeSpare(row) {
    var typed = Array.prototype.some.call(
      row.querySelectorAll("input:not([type=radio]):not([type=checkbox]), select, textarea"),
      function (control) { return control.value !== ""; }
    );
    if (!typed) row.remove();
  }

  function start() {
    document.querySelectorAll("[data-fk-spare]").forEach(removeSpare);
    document.querySelectorAll("[data-fk-add], [data-fk-remove]").forEach(function (button) {
      button.hidden = false;
    });
    document.querySelectorAll("[data-fk-group]").forEach(refreshGroup);
    applyConditions();
    // htmx runs this script again after each swap of the page: listen only once.
    if (window.formkitListening) return;
    window.formkitListening = true;
    document.addEventListener("click", function (event) {
      var add = event.target.closest("[data-fk-add]");
      var remove = event.target.closest("[data-fk-remove]");
      if (add) addRow(add.closest("[data-fk-group]"));
      else if (remove) removeRow(remove.closest("[data-fk-row]"));
    });
    document.addEventListener("change", applyConditions);
    document.addEventListener("input", applyConditions);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
