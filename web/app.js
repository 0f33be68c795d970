// Shared helpers for Tessera's pages: the session lives in sessionStorage
// (cleared when the tab closes) and every call goes to the JSON API. Plain
// script, no framework: each page loads this file and then its own script.
"use strict";
const tessera = {
  session() {
    const s = sessionStorage.getItem("tessera.session");
    return s ? JSON.parse(s) : null;
  },
  saveSession(pair) { sessionStorage.setItem("tessera.session", JSON.stringify(pair)); },
  clearSession() { sessionStorage.removeItem("tessera.session"); },

  // One HTTP call; never throws. data is the parsed JSON body (or null).
  async api(method, path, body, token) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["Authorization"] = "Bearer " + token;
    let res, text;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      text = await res.text();
    } catch (e) {
      return { status: 0, ok: false, data: { detail: "The server cannot be reached; try again." }, headers: new Headers() };
    }
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
    return { status: res.status, ok: res.ok, data, headers: res.headers };
  },

  // Calls the API with the signed-in session. A 401 renews the pair with the
  // refresh token once; calls that fail together share one renewal, because
  // presenting the same refresh token twice ends the whole session family.
  async call(method, path, body) {
    const session = tessera.session();
    if (!session) { tessera.toLogin(); return { status: 401, ok: false, data: null, headers: new Headers() }; }
    let res = await tessera.api(method, path, body, session.access);
    if (res.status !== 401 || !session.refresh) return res;
    const renewed = await tessera.renew(session.access);
    if (!renewed) { tessera.toLogin(); return res; }
    return tessera.api(method, path, body, renewed.access);
  },
  _renewing: null,
  async renew(staleAccess) {
    const now = tessera.session();
    if (!now) return null;
    if (now.access !== staleAccess) return now; // renewed meanwhile
    if (!tessera._renewing) {
      tessera._renewing = (async () => {
        const r = await tessera.api("POST", "/api/v1/token/refresh", { refresh: now.refresh });
        if (!r.ok) { tessera.clearSession(); return null; }
        const next = Object.assign(now, r.data);
        tessera.saveSession(next);
        return next;
      })().finally(() => { tessera._renewing = null; });
    }
    return tessera._renewing;
  },
  toLogin() {
    tessera.clearSession();
    location.href = "/account/login/";
  },

  // For pages that need a session: sends visitors without one to sign in,
  // fills the header's e-mail and wires its Sign out link. Returns the
  // account (GET account/me) or null.
  async signedInPage() {
    if (!tessera.session()) { location.replace("/account/login/"); return null; }
    const logout = document.getElementById("logout");
    if (logout) logout.addEventListener("click", async (ev) => { ev.preventDefault(); await tessera.signOut(); });
    const me = await tessera.call("GET", "/api/v1/account/me");
    if (me.status === 0) { // offline: keep the session, say so
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = "The server cannot be reached; reload the page to try again.";
      document.querySelector("main").prepend(p);
      return null;
    }
    if (!me.ok) { tessera.toLogin(); return null; }
    const who = document.getElementById("who");
    if (who) who.textContent = me.data.email;
    return me.data;
  },
  async signOut() {
    const s = tessera.session();
    if (s && s.refresh) await tessera.api("POST", "/api/v1/token/blacklist", { refresh: s.refresh });
    tessera.toLogin();
  },

  // ---- errors ------------------------------------------------------------

  // The API's error shapes as a list of {field, msg}; field is null for an
  // error about the whole request. Shapes: Django Ninja validation
  // {"detail":[{"loc":["body","f"],"msg"}]}, the registration form's
  // {"errors":{"f":["msg"]}} ("__all__" for the form), {"detail":"msg"} and
  // Mapbox's {"message":"msg"}, whose field is the message's first word when
  // that names one ("scopes are invalid").
  errorList(data) {
    if (!data) return [{ field: null, msg: "The request failed; try again." }];
    if (data.errors && typeof data.errors === "object") {
      const out = [];
      for (const [k, v] of Object.entries(data.errors))
        for (const msg of [].concat(v)) out.push({ field: k === "__all__" ? null : k, msg: String(msg) });
      if (out.length) return out;
    }
    if (Array.isArray(data.detail))
      return data.detail.map(d => {
        const loc = d.loc || [];
        return { field: loc.length > 1 ? String(loc[loc.length - 1]) : null, msg: d.msg || "is not valid" };
      });
    const msg = typeof data.detail === "string" ? data.detail : data.message;
    if (typeof msg !== "string" || !msg) return [{ field: null, msg: "The request failed; try again." }];
    const first = /^([A-Za-z_]+)\b/.exec(msg);
    return [{ field: data.message && first && tessera.fieldWords[first[1]] ? first[1] : null, msg }];
  },
  // How a message names a field when it starts with the field's key.
  fieldWords: {
    note: "The name", name: "The name", scopes: "The scopes", allowedUrls: "The allowed URLs", resources: "The resources",
    expires_at: "The expiry date", expiration_date: "The expiry date", expires: "The expiry",
    current_password: "The current password", new_password: "The new password",
    grace_seconds: "The grace period", email: "The e-mail", password: "The password",
    first_name: "The first name", last_name: "The last name", organization: "The organization",
  },
  // A message in words: a leading field key becomes the field's name.
  humanize(msg) {
    const m = /^([A-Za-z_]+)(\s.*)$/.exec(msg);
    const words = m && tessera.fieldWords[m[1]];
    let text = words ? words + m[2] : msg;
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + ".";
  },
  // Any error shape as one sentence (for places without fields).
  errorText(data) {
    return tessera.errorList(data).map(e => tessera.humanize(e.msg)).join(" ");
  },

  // Removes every error shown in form by showErrors, and its status line.
  clearErrors(form) {
    for (const el of form.querySelectorAll(".field-error")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      const ids = (el.getAttribute("aria-describedby") || "").split(" ").filter(id => id && !id.endsWith("-error"));
      if (ids.length) el.setAttribute("aria-describedby", ids.join(" ")); else el.removeAttribute("aria-describedby");
    }
    const status = form.querySelector(".form-status");
    if (status) { status.textContent = ""; status.className = "form-status"; }
  },
  // Shows the API's errors in form: each at the input its field names
  // (fields maps an API field to an element id, else the id is the field),
  // marked aria-invalid and described by the message; the rest in the form's
  // status line. Focuses the first invalid input.
  showErrors(form, data, fields) {
    tessera.clearErrors(form);
    const rest = [];
    let first = null;
    for (const e of tessera.errorList(data)) {
      const id = e.field && ((fields && fields[e.field]) || e.field);
      const input = id && form.querySelector("#" + CSS.escape(id));
      if (!input) { rest.push(tessera.humanize(e.msg)); continue; }
      tessera.fieldError(input, tessera.humanize(e.msg));
      first = first || input;
    }
    if (rest.length) tessera.formStatus(form, rest.join(" "), false);
    if (first) (first.tagName === "FIELDSET" ? first.querySelector("input") || first : first).focus();
  },
  // Puts msg right after input (or after the group it belongs to) and ties
  // the two together for assistive technology.
  fieldError(input, msg) {
    const id = input.id + "-error";
    let p = document.getElementById(id);
    if (!p) {
      p = document.createElement("p");
      p.id = id;
      p.className = "field-error";
      // Inside the input's group (a fieldset of checkboxes, a .field
      // wrapper), else right after the input.
      const anchor = input.closest("fieldset, .field") || input;
      anchor.insertAdjacentElement(anchor === input && input.tagName !== "FIELDSET" ? "afterend" : "beforeend", p);
    }
    p.textContent = msg;
    input.setAttribute("aria-invalid", "true");
    const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!ids.includes(id)) input.setAttribute("aria-describedby", ids.concat(id).join(" "));
  },
  formStatus(form, text, ok) {
    const status = form.querySelector(".form-status");
    if (status) tessera.show(status, text, ok);
  },
  show(el, text, ok) {
    el.textContent = text;
    el.className = (el.classList.contains("form-status") ? "form-status " : "") + (ok ? "ok" : "error");
  },

  // Runs a form's submit handler with its button disabled, so that a second
  // click while the request is under way does not send it twice; a handler
  // that returns true (done, leaving the page) keeps it disabled. Errors of
  // the previous attempt are cleared first.
  onSubmit(form, handler) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button.disabled) return;
      button.disabled = true;
      tessera.clearErrors(form);
      let done = false;
      try { done = (await handler(ev)) === true; } finally { if (!done) button.disabled = false; }
    });
  },

  // ---- clipboard ------------------------------------------------------------

  // Copies exactly text (no added newline). The Clipboard API needs a secure
  // context (https or loopback); elsewhere a hidden textarea and execCommand
  // do it. Resolves true when copied.
  async copy(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (e) { /* denied: try the old way */ }
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  },
  // A Copy button for a value: says "Copied" for a moment.
  copyButton(label, value, name) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary small";
    b.textContent = label;
    if (name) b.setAttribute("aria-label", label + " " + name);
    b.addEventListener("click", async () => {
      const ok = await tessera.copy(typeof value === "function" ? value() : value);
      b.textContent = ok ? "Copied" : "Copy failed";
      setTimeout(() => { b.textContent = label; }, 1500);
    });
    return b;
  },

  // ---- dialogs ----------------------------------------------------------------

  // Opens a <dialog> as a modal: focus moves in and stays in (Tab wraps),
  // Escape closes it, and focus returns to where it was on close.
  openDialog(dialog, focusFirst) {
    const back = document.activeElement;
    if (!dialog.dataset.trapped) {
      dialog.dataset.trapped = "1";
      dialog.addEventListener("keydown", (ev) => {
        if (ev.key !== "Tab") return;
        const items = tessera.focusables(dialog);
        if (!items.length) return;
        const first = items[0], last = items[items.length - 1];
        if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
        else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
      });
    }
    dialog.addEventListener("close", () => { if (back && back.isConnected) back.focus(); }, { once: true });
    dialog.showModal();
    const target = focusFirst || tessera.focusables(dialog)[0];
    if (target) target.focus();
  },
  focusables(root) {
    return [...root.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])")]
      .filter(el => !el.disabled && !el.hidden && el.offsetParent !== null);
  },
  // A confirmation as a modal dialog; resolves true when confirmed, false on
  // Cancel or Escape. opts: title, message, confirm (button text), danger.
  confirm(opts) {
    return new Promise((resolve) => {
      const d = document.createElement("dialog");
      d.className = "confirm";
      d.setAttribute("aria-labelledby", "confirm-title");
      d.setAttribute("aria-describedby", "confirm-message");
      const h = document.createElement("h2");
      h.id = "confirm-title";
      h.textContent = opts.title;
      const p = document.createElement("p");
      p.id = "confirm-message";
      p.textContent = opts.message;
      const ok = document.createElement("button");
      ok.type = "button";
      ok.textContent = opts.confirm || "OK";
      if (opts.danger) ok.className = "danger";
      const cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "secondary";
      cancel.textContent = "Cancel";
      const actions = document.createElement("div");
      actions.className = "actions";
      actions.append(cancel, ok);
      d.append(h, p, actions);
      if (opts.extra) p.after(opts.extra);
      let answer = false;
      ok.addEventListener("click", () => { answer = true; d.close(); });
      cancel.addEventListener("click", () => d.close());
      d.addEventListener("close", () => { d.remove(); resolve(answer); });
      document.body.append(d);
      // The safe choice has focus: Enter alone never destroys anything.
      tessera.openDialog(d, cancel);
    });
  },

  // ---- formatting ---------------------------------------------------------------

  // "2026-11-23 12:00 UTC"; "never" for null. Tables say UTC in their
  // headers and leave it out (utc false).
  dateTime(iso, utc = true) {
    return iso ? iso.slice(0, 16).replace("T", " ") + (utc ? " UTC" : "") : "never";
  },
  date(iso) { return iso ? iso.slice(0, 10) : ""; },
};
