/* leadflow.js: enhances <form data-leadflow> that posts to a leadflow capture endpoint.
   No dependencies. Without it the same form still works: it posts urlencoded and follows 303s.
   With it: UTM parameters, referrer and page URL travel with the inquiry; the post is JSON with
   one idempotency key per form fill, so a double click or a retry never makes a second inquiry;
   field errors appear beside their fields; a 429, 502, 503, 504 or a network failure is retried with backoff. */
(function () {
  "use strict";
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  var KEPT = "leadflow:attribution";
  var DELAYS = [500, 1000, 2000, 4000, 8000];
  var RETRY = [429, 502, 503, 504];

  function attribution() {
    var saved = {};
    try { saved = JSON.parse(sessionStorage.getItem(KEPT) || "{}"); } catch (e) { saved = {}; }
    var query = new URLSearchParams(location.search), found = false;
    UTM.forEach(function (name) { if (query.get(name)) { found = true; } });
    if (found) {
      saved = {};
      UTM.forEach(function (name) { if (query.get(name)) { saved[name] = query.get(name); } });
    }
    if (!saved.referrer && document.referrer) { saved.referrer = document.referrer; }
    try { sessionStorage.setItem(KEPT, JSON.stringify(saved)); } catch (e) { /* private mode */ }
    return saved;
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "lf-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function body(form, extra) {
    var out = {}, custom = {};
    new FormData(form).forEach(function (value, name) {
      if (typeof value !== "string") { return; }
      var m = /^custom(?:\[([^\]]+)\]|\.(.+))$/.exec(name);
      if (m) { custom[m[1] || m[2]] = value; } else { out[name] = value; }
    });
    Object.keys(extra).forEach(function (name) { if (!out[name]) { out[name] = extra[name]; } });
    if (Object.keys(custom).length) { out.custom = custom; }
    return out;
  }

  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll(".leadflow-error"), function (el) { el.remove(); });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) {
      el.removeAttribute("aria-invalid");
    });
  }

  function showError(form, field, message) {
    var name = field.indexOf("custom.") === 0 ? "custom[" + field.slice(7) + "]" : field;
    var input = form.elements.namedItem(name) || form.elements.namedItem(field);
    var note = document.createElement("span");
    note.className = "leadflow-error";
    note.setAttribute("role", "alert");
    note.textContent = input ? message : field + " " + message;
    if (input && input.insertAdjacentElement) {
      note.id = "leadflow-error-" + name.replace(/[^a-z0-9_-]/gi, "-");
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      input.insertAdjacentElement("afterend", note);
    } else {
      form.insertBefore(note, form.firstChild);
    }
  }

  function enhance(form) {
    var key = null, busy = false;
    var kept = attribution();
    form.addEventListener("input", function () { if (!busy) { key = null; } });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      key = key || newKey();
      var buttons = form.querySelectorAll("button, input[type=submit]");
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
      form.setAttribute("aria-busy", "true");
      clearErrors(form);
      var extra = { page_url: location.href };
      Object.keys(kept).forEach(function (name) { extra[name] = kept[name]; });
      var payload = JSON.stringify(body(form, extra));
      var done = function () {
        busy = false;
        form.removeAttribute("aria-busy");
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      };
      var attempt = function (n) {
        fetch(form.action, {
          method: "POST",
          headers: { "Content-Type": "application/json", "Idempotency-Key": key },
          body: payload
        }).then(function (response) {
          // 503: the inquiry could not be made durable; 429, 502, 504: API Gateway's own answers.
          if (RETRY.indexOf(response.status) >= 0 && n < DELAYS.length) {
            var after = parseFloat(response.headers.get("Retry-After") || "0") * 1000;
            setTimeout(function () { attempt(n + 1); }, Math.max(after, DELAYS[n]));
            return;
          }
          return response.json().catch(function () { return {}; }).then(function (answer) {
            if (response.ok) {
              form.dispatchEvent(new CustomEvent("leadflow:success", { detail: answer }));
              var thanks = form.getAttribute("data-leadflow-thank-you");
              if (thanks) { location.assign(thanks); } else { form.innerHTML = "<p role=status>Thank you!</p>"; }
              return;
            }
            (answer.errors || [{ field: "form", message: "could not be sent (" + response.status + ")" }])
              .forEach(function (e) { showError(form, e.field, e.message); });
            done();
          });
        }).catch(function () {
          if (n < DELAYS.length) { setTimeout(function () { attempt(n + 1); }, DELAYS[n]); return; }
          showError(form, "form", "could not be sent: check your connection and try again");
          done();
        });
      };
      attempt(0);
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-leadflow]"), enhance);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
