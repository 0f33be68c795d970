// Shared helpers for Tessera's pages: the session lives in sessionStorage
// (cleared when the tab closes) and every call goes to the JSON API.
"use strict";
const tessera = {
  session() {
    const s = sessionStorage.getItem("tessera.session");
    return s ? JSON.parse(s) : null;
  },
  saveSession(pair) { sessionStorage.setItem("tessera.session", JSON.stringify(pair)); },
  clearSession() { sessionStorage.removeItem("tessera.session"); },
  async api(method, path, body, token) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["Authorization"] = "Bearer " + token;
    let res, text;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      text = await res.text();
    } catch (e) {
      return { status: 0, ok: false, data: { detail: "The server cannot be reached; try again." } };
    }
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
    return { status: res.status, ok: res.ok, data };
  },
  // Turns any of the API's error shapes into one readable sentence.
  errorText(data) {
    if (!data) return "Request failed";
    if (data.errors) return Object.entries(data.errors).map(([k, v]) => k + ": " + v.join(" ")).join("; ");
    if (Array.isArray(data.detail)) return data.detail.map(d => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
    return data.detail || data.message || "Request failed";
  },
  show(el, text, ok) { el.textContent = text; el.className = ok ? "ok" : "error"; },
  // Runs a form's submit handler with its button disabled, so that a second
  // click while the request is under way does not send it twice; a handler
  // that returns true (done, leaving the page) keeps it disabled.
  onSubmit(form, handler) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button.disabled) return;
      button.disabled = true;
      let done = false;
      try { done = (await handler(ev)) === true; } finally { if (!done) button.disabled = false; }
    });
  },
};
