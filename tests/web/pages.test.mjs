// End-to-end test of Tessera's web pages (SPEC §4.4, issue 14 item 6), driven
// like a person would in Debian's chromium through playwright-core:
//   register and sign in (errors at their fields, in words), the tokens page
//   (default public token with copy and rotate but no revoke, create with
//   scope descriptions and every expiry preset, the secret reveal with copy
//   and dismiss, filter, sort and empty states, edit in a dialog, rotate,
//   revoke, last used, the expiry notices banner), the settings page
//   (profile, password change keeping this tab signed in, revoke all, sign
//   out everywhere), the audit page with paging, keyboard use (focus visible,
//   dialogs trap focus and close on Escape) and every page at 390 px.
// Each credential the pages hand out is checked against the API with fetch.
//
//   TESSERA_URL=http://127.0.0.1:8080 node --test pages.test.mjs
//
// The server should scan for expiry notices every second
// (--notice-scan-interval 1), as tests/integration/test_pages.py starts it.
// Optional: CHROMIUM (default /usr/bin/chromium); TESSERA_SCREENSHOT_DIR to
// write the README's screenshots there (docs/screenshots); TESSERA_STEP_SHOTS=1
// to keep one of every step as well. A failing step always leaves a
// screenshot, in a temporary directory.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const BASE = (process.env.TESSERA_URL || "").replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const DOC_SHOTS = process.env.TESSERA_SCREENSHOT_DIR || "";
const STEP_SHOTS = process.env.TESSERA_STEP_SHOTS === "1";
const TIMEOUT = 30_000; // password hashing under sanitizers can be slow
const DAY_MS = 86400_000;
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const DESKTOP = { width: 1100, height: 800 };
const PHONE = { width: 390, height: 844 };

const run = Date.now().toString(36) + process.pid;
const email = `web-${run}@example.com`;
const password = "correct horse battery staple";
const newPassword = "purple monkey dishwasher 42";
const resetPassword = "seven ravens over the hill";
// The server's mail outbox (mail_transport = file), for the reset link.
const OUTBOX = process.env.TESSERA_OUTBOX || "";
// Token names need only be unique within the (new) account.
const pkName = "web map tiles";
const stacName = "nightly STAC sync";
const names = { p7: "font preview", p90: "quarterly report", custom: "partner demo", soon: "conference kiosk" };

let context, page, profileDir, failDir, broken = false, shotCount = 0;
const pageErrors = [];
const secrets = {}; // name -> secret shown once by the page

function utcDatePlus(days) {
  return new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);
}

async function snap(dir, file, fullPage = true) {
  if (!page) return null;
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, file);
  try {
    await page.screenshot({ path: p, fullPage });
    return p;
  } catch (e) {
    return null;
  }
}
const stepFile = name => `${String(++shotCount).padStart(2, "0")}-${name.replace(/[^a-z0-9]+/gi, "_")}.png`;
// A screenshot for the README, when asked for: the whole page, or what
// is on screen (a modal dialog stays where the viewport is).
async function docShot(name, fullPage = true) {
  if (!DOC_SHOTS) return;
  await page.mouse.move(0, 0); // no hover effect on the last button clicked
  await snap(DOC_SHOTS, name + ".png", fullPage);
}

// A step of the one scenario: later steps are skipped once one fails, and a
// failure leaves a screenshot and the page's text behind.
function step(name, fn) {
  test(name, async (t) => {
    if (broken) { t.skip("an earlier step failed"); return; }
    try {
      await fn(t);
      assert.deepEqual(pageErrors, [], "uncaught errors in the page's scripts");
      if (STEP_SHOTS && DOC_SHOTS) await snap(path.join(DOC_SHOTS, "steps"), stepFile(name));
    } catch (e) {
      broken = true;
      failDir = failDir || fs.mkdtempSync(path.join(os.tmpdir(), "tessera-web-shots-"));
      const file = await snap(failDir, stepFile("FAILED " + name));
      let text = "";
      try { text = await page.locator("body").innerText(); } catch (_) { /* page gone */ }
      // Node prints the stack (made when the error was), so extend that.
      e.stack = (e.stack || String(e)) + `\n  page: ${page ? page.url() : "?"}` +
        (file ? `\n  screenshot: ${file}` : "") + `\n  page text:\n${text.replace(/^/gm, "    ")}`;
      throw e;
    }
  });
}

// ---- the API, as any client sees it ---------------------------------------------

async function api(method, p, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(BASE + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  return { status: res.status, data };
}

async function tokenCode(secret) {
  const r = await api("GET", "/tokens/v2", { token: secret });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data.code;
}

const pageSession = () => page.evaluate(() => tessera.session());
async function pageAccess() { return (await pageSession()).access; }
async function username() {
  const me = await api("GET", "/api/v1/account/me", { token: await pageAccess() });
  assert.equal(me.status, 200, JSON.stringify(me.data));
  return me.data.username;
}

// The account's tokens (Mapbox listing: with note, allowedUrls, pk values).
async function listed() {
  const r = await api("GET", `/tokens/v2/${await username()}`, { token: await pageAccess() });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data;
}
async function storedToken(id) {
  const t = (await listed()).find(x => x.id === id);
  assert.ok(t, `token ${id} not listed`);
  return t;
}
async function storedByName(name) {
  const t = (await listed()).find(x => x.note === name);
  assert.ok(t, `no token named ${name}`);
  return t;
}

// Polls fn until it returns a truthy value.
async function until(fn, what, ms = TIMEOUT) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail("timed out waiting for " + what);
    await new Promise(r => setTimeout(r, 100));
  }
}

// ---- page helpers ------------------------------------------------------------------

const status = () => page.locator("#status");
const row = name => page.locator("#tokens tr", { hasText: name });
const createForm = () => page.locator("#create");
const editDialog = () => page.locator("#edit-dialog");
const rowNames = () => page.locator("#tokens tr td:first-child strong").allInnerTexts();

async function clipboard() {
  return page.evaluate(() => navigator.clipboard.readText());
}
async function setClipboard(text) {
  await page.evaluate(t => navigator.clipboard.writeText(t), text);
}

// Fills the create form and submits it; preset is "none", "7", "30", "90"
// or "custom" (with date).
async function createToken({ name, scopes, preset = "none", date, urls }) {
  const form = createForm();
  await form.getByLabel("Name", { exact: true }).fill(name);
  for (const s of scopes) await form.locator(`#scopes input[value="${s}"]`).check();
  if (urls) await form.getByLabel("Allowed URLs (optional)").fill(urls.join("\n"));
  await form.locator(`input[name=expiry][value="${preset}"]`).check();
  if (date) await form.locator("#expiry-date").fill(date);
  await form.getByRole("button", { name: "Create token" }).click();
}

async function assertVisibleText(locator, expected) {
  await locator.waitFor({ state: "visible" });
  const deadline = Date.now() + TIMEOUT;
  let text = "";
  for (;;) {
    text = (await locator.innerText()).trim();
    const ok = expected instanceof RegExp ? expected.test(text) : text.includes(expected);
    if (ok) return text;
    if (Date.now() > deadline) assert.fail(`expected ${expected} in ${JSON.stringify(text)}`);
    await page.waitForTimeout(50);
  }
}

async function assertRed(locator) {
  const color = await locator.evaluate(el => getComputedStyle(el).color);
  assert.equal(color, "rgb(180, 35, 24)", "shown in red");
}

// A status line error (not about one field).
async function assertVisibleError(locator, expected) {
  const text = await assertVisibleText(locator, expected);
  assert.ok((await locator.getAttribute("class")).split(" ").includes("error"), `"${text}" is shown as an error`);
  await assertRed(locator);
  return text;
}

// Raw API field keys never reach people.
const FIELD_KEYS = /\b(password1|password2|expires_at|allowedUrls|current_password|new_password|first_name|__all__)\b|^\w+:/;

// An error at the field selector names: marked aria-invalid, described by a
// visible message in words right there, and nothing in the form's status.
async function assertFieldError(selector, expected) {
  const input = page.locator(selector);
  await until(async () => (await input.getAttribute("aria-invalid")) === "true", `${selector} marked invalid`);
  const ids = ((await input.getAttribute("aria-describedby")) || "").split(" ");
  const errId = ids.find(id => id.endsWith("-error"));
  assert.ok(errId, `${selector} is described by its error (aria-describedby=${ids.join(" ")})`);
  const err = page.locator("#" + errId);
  const text = await assertVisibleText(err, expected);
  assert.doesNotMatch(text, FIELD_KEYS, "the message is in words");
  await assertRed(err);
  // Next to its field: the message starts within 120 px below the input.
  const [a, b] = [await input.boundingBox(), await err.boundingBox()];
  assert.ok(b.y >= a.y && b.y - (a.y + a.height) < 120, `error ${JSON.stringify(b)} is at its field ${JSON.stringify(a)}`);
  return text;
}

// Opens a dialog-bearing action and checks the dialog keeps the keyboard:
// Tab and Shift+Tab never leave it.
async function assertFocusTrapped(dialog) {
  for (const key of ["Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
    await page.keyboard.press(key);
    const inside = await dialog.evaluate(d => d.contains(document.activeElement));
    assert.ok(inside, `focus left the dialog after ${key}`);
  }
}

// No horizontal scrolling at the current viewport.
async function assertNoOverflow(what) {
  const { sw, w } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: window.innerWidth }));
  assert.ok(sw <= w, `${what}: the page is ${sw} px wide in a ${w} px viewport`);
}
// The control is visible and wholly on screen once scrolled to.
async function assertReachable(locator, what) {
  await locator.scrollIntoViewIfNeeded();
  assert.ok(await locator.isVisible(), `${what} is visible`);
  const box = await locator.boundingBox();
  const width = page.viewportSize().width;
  assert.ok(box && box.x >= 0 && box.x + box.width <= width, `${what} at ${JSON.stringify(box)} is within ${width} px`);
}

before(async () => {
  assert.ok(BASE, "set TESSERA_URL to the server to test, e.g. http://127.0.0.1:8080");
  assert.ok(fs.existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (scripts/deps.sh installs Debian's chromium)`);
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-web-profile-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS,
    viewport: DESKTOP, timeout: 60_000,
  });
  context.setDefaultTimeout(TIMEOUT);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  page = context.pages()[0] || await context.newPage();
  page.on("pageerror", err => pageErrors.push(String(err)));
  // The pages use their own dialogs; a browser one (alert, confirm) is a bug.
  page.on("dialog", d => { pageErrors.push("unexpected browser dialog: " + d.message()); d.dismiss(); });
});

after(async () => {
  if (context) await context.close();
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  if (failDir) console.log(`failure screenshots in ${failDir}`);
  if (DOC_SHOTS) console.log(`screenshots in ${DOC_SHOTS}`);
});

// ---- pages served, sign-in required ---------------------------------------------------

step("the pages and their shared assets are served", async () => {
  for (const p of ["/account/register/", "/account/login/", "/account/tokens/", "/account/settings/", "/account/audit/"]) {
    const res = await page.goto(BASE + p);
    assert.equal(res.status(), 200, p);
    assert.match(res.headers()["content-type"], /^text\/html/, p);
  }
  // The stylesheet really applies (buttons take the accent colour).
  await page.goto(BASE + "/account/register/");
  const bg = await page.locator("button[type=submit]").evaluate(b => getComputedStyle(b).backgroundColor);
  assert.equal(bg, "rgb(31, 111, 235)");
});

step("without a session the account pages send you to sign in", async () => {
  for (const p of ["/account/tokens/", "/account/settings/", "/account/audit/"]) {
    await page.goto(BASE + p);
    await page.waitForURL(/\/account\/login\/$/);
  }
});

// ---- register and sign in: errors at their fields --------------------------------------

step("register: mismatched passwords are said at the second password", async () => {
  await page.goto(BASE + "/account/register/");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("First name (optional)").fill("Ada");
  await page.getByLabel(/^Password \(at least/).fill(password);
  await page.getByLabel("Password again").fill(password + "!");
  await page.getByRole("button", { name: "Register" }).click();
  const text = await assertFieldError("#password2", /match/i);
  assert.doesNotMatch(text, /password2/);
  assert.equal((await status().innerText()).trim(), "", "nothing in the status line");
  assert.match(page.url(), /\/account\/register\/$/);
});

step("register: a weak password is said at the password", async () => {
  await page.getByLabel(/^Password \(at least/).fill("password");
  await page.getByLabel("Password again").fill("password");
  await page.getByRole("button", { name: "Register" }).click();
  await assertFieldError("#password1", /common|weak|short|password/i);
  // The earlier error is gone with the new attempt.
  assert.equal(await page.locator("#password2").getAttribute("aria-invalid"), null);
  assert.equal(await page.locator("#password2-error").count(), 0);
  // The weak attempt created nothing: the e-mail still cannot sign in.
  const r = await api("POST", "/api/v1/token/pair", { body: { email, password: "password" } });
  assert.equal(r.status, 401);
});

step("register: an e-mail already taken is said at the e-mail", async () => {
  const taken = `taken-${run}@example.com`;
  const r = await api("POST", "/api/v1/account/register", { body: { email: taken, password } });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  await page.getByLabel("E-mail").fill(taken);
  await page.getByLabel(/^Password \(at least/).fill(password);
  await page.getByLabel("Password again").fill(password);
  await page.getByRole("button", { name: "Register" }).click();
  await assertFieldError("#email", /./);
  // An empty required field is said there too, before any request.
  await page.getByLabel("E-mail").fill("");
  await page.getByRole("button", { name: "Register" }).click();
  await assertFieldError("#email", /required/i);
});

step("register: a good password creates the account and leads to sign in", async () => {
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel(/^Password \(at least/).fill(password);
  await page.getByLabel("Password again").fill(password);
  await page.getByRole("button", { name: "Register" }).click();
  await assertVisibleText(status(), /Account created/);
  assert.ok((await status().getAttribute("class")).includes("ok"));
  assert.equal(await page.locator("[aria-invalid=true]").count(), 0, "no field is left marked invalid");
  assert.ok(await page.getByRole("button", { name: "Register" }).isDisabled(), "no second submit once done");
  await page.waitForURL(/\/account\/login\/$/);
});

step("sign in: a wrong password gives a visible error", async () => {
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password + "x");
  await page.getByRole("button", { name: "Sign in" }).click();
  await assertVisibleError(status(), /No active account/);
  assert.match(page.url(), /\/account\/login\/$/);
});

step("sign in: an empty password is said at the field", async () => {
  await page.getByLabel("Password").fill("");
  await page.getByRole("button", { name: "Sign in" }).click();
  await assertFieldError("#password", /password/i);
  assert.equal((await status().innerText()).trim(), "", "the stale status message is gone");
});

step("sign in: an unreachable server gives a visible error", async () => {
  await page.route("**/api/v1/token/pair", route => route.abort("connectionrefused"));
  try {
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await assertVisibleError(status(), /cannot be reached/);
    assert.match(page.url(), /\/account\/login\/$/);
    assert.ok(await page.getByRole("button", { name: "Sign in" }).isEnabled(), "can try again");
  } finally {
    await page.unroute("**/api/v1/token/pair");
  }
});

step("sign in: the right password lands on the tokens page", async () => {
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/account\/tokens\/$/);
  await assertVisibleText(page.locator("#who"), email);
  // The header leads to every account page.
  const nav = page.getByRole("navigation", { name: "Account" });
  for (const name of ["Tokens", "Settings", "Audit log"]) assert.equal(await nav.getByRole("link", { name }).count(), 1, name);
  assert.equal(await nav.getByRole("link", { name: "Tokens" }).getAttribute("aria-current"), "page");
});

// ---- tokens: default pk, empty state, scopes -----------------------------------------------

step("tokens: the default public token is shown at the top, copyable, rotatable, not revocable", async () => {
  const box = page.locator("#default-box");
  const value = box.locator("#default-token");
  await assertVisibleText(value, /^pk\./);
  const def = (await listed()).find(t => t.default);
  assert.equal((await value.innerText()).trim(), def.token, "the default pk's own value");
  await setClipboard("something else");
  await box.getByRole("button", { name: /^Copy/ }).click();
  await until(async () => (await clipboard()) === def.token, "the default pk on the clipboard");
  assert.equal(await box.getByRole("button", { name: /Rotate/ }).count(), 1);
  assert.equal(await box.getByRole("button", { name: /Revoke/ }).count(), 0, "no Revoke for the default pk");
  assert.equal(await page.locator(`#tokens tr[data-id="${def.id}"]`).count(), 0, "not in the list either");
});

step("tokens: a new account's list says there are no tokens yet", async () => {
  const empty = page.locator("#tokens td.empty");
  await assertVisibleText(empty, /No tokens yet/);
  assert.match(await empty.innerText(), /Create one/);
  await empty.getByRole("button", { name: "Create a token" }).click();
  assert.equal(await page.evaluate(() => document.activeElement.id), "note", "the hint leads to the form");
  assert.ok(await page.locator("#secret-box").isHidden(), "no secret is shown before one is created");
});

step("tokens: each scope is offered with its description beside it", async () => {
  const r = await api("GET", `/scopes/v1/${await username()}`, { token: await pageAccess() });
  assert.equal(r.status, 200);
  for (const s of r.data) {
    const input = page.locator(`#scopes input[type=checkbox][value="${s.id}"]`);
    assert.equal(await input.count(), 1, s.id);
    const label = page.locator(`label[for="${await input.getAttribute("id")}"]`);
    const text = await label.innerText();
    assert.ok(text.includes(s.description), `${s.id}: "${text}" shows "${s.description}"`);
    assert.match(text, s.public ? /public/ : /secret/);
  }
});

step("tokens: creating without a name or scope is refused at those fields", async () => {
  await createForm().getByRole("button", { name: "Create token" }).click();
  await assertFieldError("#note", /name/i);
  await assertFieldError("#scopes", /at least one scope/);
  assert.equal(await page.locator("#tokens tr[data-id]").count(), 0);
});

// ---- create, reveal, copy, dismiss -----------------------------------------------------------

step("tokens: create a public token; the reveal names it, copies exactly it and goes away", async () => {
  await createToken({ name: pkName, scopes: ["styles:read"] });
  await assertVisibleText(page.locator("#create-status"), `Token \u201c${pkName}\u201d created.`);
  assert.equal(await page.locator("[aria-invalid=true]").count(), 0, "the earlier field errors are gone");
  await assertVisibleText(page.locator("#secret-title"), pkName);
  const secret = await page.locator("#secret").innerText();
  assert.match(secret, /^pk\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  secrets[pkName] = secret;
  // Copy: exactly the token, no newline or space around it.
  await setClipboard("");
  await page.locator("#secret-box").getByRole("button", { name: /^Copy token/ }).click();
  await assertVisibleText(page.locator("#secret-status"), "Copied");
  assert.equal(await clipboard(), secret);
  await row(pkName).waitFor();
  const cells = await row(pkName).locator("td").allInnerTexts();
  assert.equal(cells[1], "pk");
  assert.equal(cells[2].trim(), "styles:read");
  assert.equal(cells[4], "never");
  assert.equal(cells[5], "never", "not used yet");
  // The form is ready for the next token.
  assert.equal(await createForm().getByLabel("Name", { exact: true }).inputValue(), "");
  assert.equal(await page.locator("#scopes input:checked").count(), 0);
  assert.ok(await page.locator("#expiry-none").isChecked(), "expiry back to its default");
  // The secret works, with exactly the chosen scope.
  const r = await api("GET", "/tokens/v2", { token: secret });
  assert.equal(r.data.code, "TokenValid", JSON.stringify(r.data));
  const stored = await storedToken(r.data.token.authorization);
  assert.equal(stored.note, pkName);
  assert.deepEqual(stored.scopes, ["styles:read"]);
  assert.equal(stored.expires, undefined);
  // Dismissed, the value leaves the page.
  await page.locator("#secret-box").getByRole("button", { name: /hide it/ }).click();
  assert.ok(await page.locator("#secret-box").isHidden());
  assert.equal(await page.locator("#secret").innerText(), "");
});

step("tokens: copying works without the Clipboard API too", async () => {
  await setClipboard("");
  await page.evaluate(() => { navigator.clipboard.writeText = () => Promise.reject(new Error("denied")); });
  await row(pkName).getByRole("button", { name: /^Copy/ }).click();
  await until(async () => (await clipboard()) === secrets[pkName], "the pk copied by the fallback");
  await page.reload(); // the real writeText again
});

step("tokens: expiry presets of 7 and 90 days and a custom date, for sk and pk", async () => {
  const before = Date.now();
  await createToken({ name: stacName, scopes: ["stac", "catalog:read"], preset: "30" });
  await assertVisibleText(page.locator("#create-status"), "created");
  const stac = await page.locator("#secret").innerText();
  assert.match(stac, /^sk\./);
  secrets[stacName] = stac;
  await assertVisibleText(page.locator("#secret-hint"), /only once/);
  await createToken({ name: names.p7, scopes: ["fonts:read"], preset: "7" });
  await assertVisibleText(page.locator("#secret-title"), names.p7);
  await createToken({ name: names.p90, scopes: ["stac"], preset: "90" });
  await assertVisibleText(page.locator("#secret-title"), names.p90);
  const date = utcDatePlus(45);
  await createToken({ name: names.custom, scopes: ["styles:read", "styles:tiles"], preset: "custom", date });
  await assertVisibleText(page.locator("#secret-title"), names.custom);
  const after = Date.now();
  const within = (t, days) => {
    const at = Date.parse(t.expires);
    assert.ok(at >= before + days * DAY_MS - 1000 && at <= after + days * DAY_MS + 1000, `${t.note} expires ${t.expires}`);
  };
  within(await storedByName(stacName), 30);
  within(await storedByName(names.p7), 7);
  within(await storedByName(names.p90), 90);
  const custom = await storedByName(names.custom);
  assert.equal(custom.usage, "pk");
  assert.equal(custom.expires, utcDatePlus(46) + "T00:00:00.000Z", "valid through the end of the chosen day (UTC)");
  // The list shows the last valid day of a dated token, and the instant of
  // a preset one; expiring soon gets its badge.
  await row(names.custom).waitFor();
  assert.equal((await row(names.custom).locator("td").allInnerTexts())[4], date);
  assert.match((await row(stacName).locator("td").allInnerTexts())[4], /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  assert.equal(await row(names.p7).locator(".badge.soon").count(), 1, "7 days is within the warning");
  assert.equal(await row(names.p90).locator(".badge.soon").count(), 0);
  const search = await api("GET", "/api/v1/stac/search?limit=1", { token: stac });
  assert.notEqual(search.status, 401, JSON.stringify(search.data));
});

step("tokens: a date the server refuses is said at the date, in words", async () => {
  await createToken({ name: "too far", scopes: ["styles:read"], preset: "custom", date: utcDatePlus(800) });
  const text = await assertFieldError("#expiry-date", /expiry date/i);
  assert.doesNotMatch(text, /expires_at/);
  // A custom date left empty is said there before any request.
  await createForm().locator("#expiry-date").fill("");
  await createForm().getByRole("button", { name: "Create token" }).click();
  await assertFieldError("#expiry-date", /day/);
  assert.equal(await row("too far").count(), 0);
  await createForm().locator("#expiry-none").check();
  await createForm().getByLabel("Name", { exact: true }).fill("");
  for (const c of await page.locator("#scopes input:checked").all()) await c.uncheck();
});

step("tokens: after a reload the secrets are gone but the tokens are listed", async () => {
  await page.reload();
  await row(stacName).waitFor();
  await row(pkName).waitFor();
  assert.ok(await page.locator("#secret-box").isHidden(), "secret box hidden after reload");
  assert.equal((await page.locator("#secret").innerText()).trim(), "");
  const html = await page.content();
  const part = secrets[stacName].split(".")[2];
  assert.ok(!html.includes(part), "the sk secret is not shown again after a reload");
  // Nor is any secret kept in the browser's storage.
  const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
  for (const secret of Object.values(secrets)) assert.ok(!stored.includes(secret.split(".")[2]));
});

step("tokens: an access token that no longer works is renewed with the refresh token", async () => {
  const before = await page.evaluate(() => {
    const s = tessera.session();
    s.access = "not-a-token";
    tessera.saveSession(s);
    return { refresh: s.refresh };
  });
  await page.reload();
  await row(pkName).waitFor();
  await assertVisibleText(page.locator("#who"), email);
  const after = await pageSession();
  assert.notEqual(after.access, "not-a-token");
  assert.notEqual(after.refresh, before.refresh, "the refresh token rotated");
  // The page's calls renewed once together: the new pair works.
  const me = await api("GET", "/api/v1/account/me", { token: after.access });
  assert.equal(me.status, 200, JSON.stringify(me.data));
  const again = await api("POST", "/api/v1/token/refresh", { body: { refresh: after.refresh } });
  assert.equal(again.status, 200, "the session family is intact");
  await page.evaluate(pair => tessera.saveSession(Object.assign(tessera.session(), pair)), again.data);
});

// ---- filter and sort -------------------------------------------------------------------------

step("tokens: filter by text and kind, sort by name, expiry and creation", async () => {
  await page.reload();
  await row(names.custom).waitFor();
  await page.getByLabel("Filter", { exact: true }).fill("stac");
  assert.deepEqual((await rowNames()).sort(), [stacName, names.p90].sort(), "text matches names and scopes");
  await page.getByLabel("Kind").selectOption("pk");
  await page.getByLabel("Filter", { exact: true }).fill("");
  assert.deepEqual((await rowNames()).sort(), [pkName, names.p7, names.custom].sort());
  for (const r of await page.locator("#tokens tr").all()) assert.equal((await r.locator("td").allInnerTexts())[1], "pk");
  await assertVisibleText(page.locator("#list-count"), "Showing 3 of 5 tokens");
  // Nothing matches: a message and a way back.
  await page.getByLabel("Filter", { exact: true }).fill("no such token");
  await assertVisibleText(page.locator("#tokens td.empty"), "No tokens match");
  await page.locator("#tokens").getByRole("button", { name: "Clear filter" }).click();
  assert.equal((await rowNames()).length, 5);
  assert.equal(await page.getByLabel("Kind").inputValue(), "");
  await page.getByLabel("Sort by").selectOption("name");
  const byName = await rowNames();
  assert.deepEqual(byName, [...byName].sort((a, b) => a.localeCompare(b)));
  await page.getByLabel("Sort by").selectOption("expires");
  assert.deepEqual(await rowNames(), [names.p7, stacName, names.custom, names.p90, pkName], "soonest first, never last");
  await page.getByLabel("Sort by").selectOption("created");
  assert.deepEqual(await rowNames(), [names.custom, names.p90, names.p7, stacName, pkName], "newest first");
});

step("tokens: last used shows up after a use and sorts first", async () => {
  const search = await api("GET", "/api/v1/stac/search?limit=1", { token: secrets[stacName] });
  assert.equal(search.status, 200);
  await page.reload();
  await row(stacName).waitFor();
  const used = (await row(stacName).locator("td").allInnerTexts())[5];
  assert.match(used, /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  await page.getByLabel("Sort by").selectOption("last_used");
  assert.equal((await rowNames())[0], stacName);
  await page.getByLabel("Sort by").selectOption("created");
});

// ---- edit ----------------------------------------------------------------------------------------

step("tokens: edit name, scopes, allowed URLs and expiry in a dialog", async () => {
  const renamed = pkName + " (production)";
  await row(pkName).getByRole("button", { name: /^Edit/ }).click();
  const dlg = editDialog();
  await dlg.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "edit-note", "focus moves into the dialog");
  assert.equal(await dlg.getByLabel("Name", { exact: true }).inputValue(), pkName);
  // A public token cannot take a secret scope.
  assert.ok(await dlg.locator('#edit-scopes input[value="stac"]').isDisabled());
  assert.ok(await dlg.locator('#edit-scopes input[value="styles:read"]').isChecked());
  await assertFocusTrapped(dlg);
  await dlg.getByLabel("Name", { exact: true }).fill(renamed);
  await dlg.locator('#edit-scopes input[value="fonts:read"]').check();
  await dlg.getByLabel("Allowed URLs").fill("https://maps.example.com/\nhttps://viewer.example.org/");
  await dlg.locator('input[name=edit-expiry][value="30"]').check();
  await dlg.evaluate(d => { d.scrollTop = 0; });
  await docShot("tokens-edit", false);
  await dlg.getByRole("button", { name: "Save changes" }).click();
  await dlg.waitFor({ state: "hidden" });
  await assertVisibleText(page.locator("#list-status"), `Saved \u201c${renamed}\u201d.`);
  await row(renamed).waitFor();
  assert.match(await row(renamed).innerText(), /Only from https:\/\/maps\.example\.com\/, https:\/\/viewer\.example\.org\//);
  const focused = await page.evaluate(() => document.activeElement.dataset.action + " " + document.activeElement.dataset.id);
  assert.match(focused, /^edit /, "focus back on the row's Edit");
  const t = await storedByName(renamed);
  assert.deepEqual(t.scopes.sort(), ["fonts:read", "styles:read"]);
  assert.deepEqual(t.allowedUrls, ["https://maps.example.com/", "https://viewer.example.org/"]);
  assert.ok(Math.abs(Date.parse(t.expires) - (Date.now() + 30 * DAY_MS)) < 60_000, t.expires);
  secrets[renamed] = secrets[pkName];
  delete secrets[pkName];
});

step("tokens: edit errors stay in the dialog at their field; Escape closes without saving", async () => {
  const name = pkName + " (production)";
  await row(name).getByRole("button", { name: /^Edit/ }).click();
  const dlg = editDialog();
  await dlg.locator('input[name=edit-expiry][value="custom"]').check();
  await dlg.locator("#edit-expiry-date").fill(utcDatePlus(900));
  await dlg.getByRole("button", { name: "Save changes" }).click();
  await assertFieldError("#edit-expiry-date", /expiry date/i);
  assert.ok(await dlg.isVisible(), "the dialog stays open");
  // Back to "never", the URLs cleared, then thought better of: Escape.
  await dlg.locator('input[name=edit-expiry][value="none"]').check();
  await dlg.getByLabel("Allowed URLs").fill("");
  await page.keyboard.press("Escape");
  await dlg.waitFor({ state: "hidden" });
  const t = await storedByName(name);
  assert.ok(t.expires, "Escape saved nothing");
  assert.equal(t.allowedUrls.length, 2);
  // Now for real: no expiry, any site.
  await row(name).getByRole("button", { name: /^Edit/ }).click();
  assert.equal(await dlg.locator("#edit-expiry-date-error").count(), 0, "a reopened dialog starts clean");
  await dlg.locator('input[name=edit-expiry][value="none"]').check();
  await dlg.getByLabel("Allowed URLs").fill("");
  await dlg.getByRole("button", { name: "Save changes" }).click();
  await dlg.waitFor({ state: "hidden" });
  await until(async () => {
    const x = await storedByName(name);
    return !x.expires && !x.allowedUrls;
  }, "expiry and allowed URLs removed");
  assert.equal((await row(name).locator("td").allInnerTexts())[4], "never");
});

step("tokens: resources bind a token to collections and asset prefixes; a bad one is refused at its field", async () => {
  const name = pkName + " (production)";
  await row(name).getByRole("button", { name: /^Edit/ }).click();
  const dlg = editDialog();
  await dlg.getByLabel("Resources").fill("bucket:x");
  await dlg.getByRole("button", { name: "Save changes" }).click();
  await assertFieldError("#edit-resources", /invalid entry/i);
  assert.ok(await dlg.isVisible(), "the dialog stays open");
  await dlg.getByLabel("Resources").fill("collection:l4a-ch4-mfa-v3a\nasset:l2b-ch4-mfa-v3a/2023/");
  await dlg.getByRole("button", { name: "Save changes" }).click();
  await dlg.waitFor({ state: "hidden" });
  await until(async () => ((await storedByName(name)).resources || []).length === 2, "resources saved");
  assert.match(await row(name).innerText(), /Only asset:l2b-ch4-mfa-v3a\/2023\/, collection:l4a-ch4-mfa-v3a/);
  await row(name).getByRole("button", { name: /^Edit/ }).click();
  assert.equal(await dlg.getByLabel("Resources").inputValue(),
    "asset:l2b-ch4-mfa-v3a/2023/\ncollection:l4a-ch4-mfa-v3a");
  await dlg.getByLabel("Resources").fill("");
  await dlg.getByRole("button", { name: "Save changes" }).click();
  await dlg.waitFor({ state: "hidden" });
  await until(async () => !(await storedByName(name)).resources, "resources lifted");
});

// ---- rotate and revoke --------------------------------------------------------------------------

step("tokens: rotate shows the new value named, and the old one works through its grace", async () => {
  const name = pkName + " (production)";
  const oldSecret = secrets[name];
  await row(name).getByRole("button", { name: /^Rotate/ }).click();
  const dlg = page.locator("#rotate-dialog");
  await dlg.waitFor();
  await assertFocusTrapped(dlg);
  await dlg.getByLabel(/keeps working for/).selectOption("86400");
  await dlg.getByRole("button", { name: "Rotate" }).click();
  await assertVisibleText(page.locator("#list-status"), `Rotated \u201c${name}\u201d: the old value works until`);
  await assertVisibleText(page.locator("#secret-title"), name);
  const fresh = await page.locator("#secret").innerText();
  assert.ok(fresh.startsWith("pk.") && fresh !== oldSecret, fresh);
  assert.equal(await tokenCode(fresh), "TokenValid");
  assert.equal(await tokenCode(oldSecret), "TokenValid", "the old value works for a day");
  secrets[name] = fresh;
  // The old one is listed as replaced, with only Revoke left.
  const old = page.locator("#tokens tr", { has: page.locator(".badge.replaced") });
  await old.waitFor();
  assert.match(await old.innerText(), /works until/);
  assert.equal(await old.getByRole("button", { name: /^Rotate/ }).count(), 0);
  assert.equal(await old.getByRole("button", { name: /^Revoke/ }).count(), 1);
  await page.locator("#dismiss-secret").click();
});

step("tokens: rotate the default public token", async () => {
  const before = await page.locator("#default-token").innerText();
  await page.locator("#default-box").getByRole("button", { name: /Rotate/ }).click();
  const dlg = page.locator("#rotate-dialog");
  await dlg.getByLabel(/keeps working for/).selectOption("0");
  await dlg.getByRole("button", { name: "Rotate" }).click();
  await assertVisibleText(page.locator("#default-status"), "the old value no longer works");
  await until(async () => (await page.locator("#default-token").innerText()) !== before, "a new default value");
  const now = await page.locator("#default-token").innerText();
  assert.equal(await tokenCode(now), "TokenValid");
  assert.notEqual(await tokenCode(before), "TokenValid");
  assert.equal(await page.locator("#secret").innerText(), now);
  await page.locator("#dismiss-secret").click();
});

step("tokens: revoke asks first; Cancel and Escape keep the token", async () => {
  const dialog = page.locator("dialog.confirm");
  await row(stacName).getByRole("button", { name: /^Revoke/ }).click();
  await assertVisibleText(dialog, stacName);
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Cancel", "the safe choice has focus");
  await assertFocusTrapped(dialog);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  assert.match(await page.evaluate(() => document.activeElement.getAttribute("aria-label") || ""), /^Revoke/, "focus back on Revoke");
  await row(stacName).getByRole("button", { name: /^Revoke/ }).click();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await dialog.waitFor({ state: "detached" });
  assert.equal(await row(stacName).count(), 1);
  assert.equal(await tokenCode(secrets[stacName]), "TokenValid");
});

step("tokens: revoke after confirming; it disappears and stops working", async () => {
  await page.locator("#create").getByLabel("Name", { exact: true }).fill("x");
  await createForm().getByRole("button", { name: "Create token" }).click(); // leaves an error behind
  await assertFieldError("#scopes", /scope/);
  await row(stacName).getByRole("button", { name: /^Revoke/ }).click();
  await page.locator("dialog.confirm").getByRole("button", { name: "Revoke" }).click();
  await row(stacName).waitFor({ state: "detached" });
  await assertVisibleText(page.locator("#list-status"), `Revoked \u201c${stacName}\u201d.`);
  assert.equal(await page.locator("#scopes-error").count(), 0, "the stale error went with the next action");
  await page.locator("#create").getByLabel("Name", { exact: true }).fill("");
  assert.equal(await tokenCode(secrets[stacName]), "TokenRevoked");
  const search = await api("GET", "/api/v1/stac/search?limit=1", { token: secrets[stacName] });
  assert.equal(search.status, 401, JSON.stringify(search.data));
  assert.equal(await tokenCode(secrets[pkName + " (production)"]), "TokenValid", "the others are untouched");
  await page.reload();
  await row(names.p90).waitFor();
  assert.equal(await row(stacName).count(), 0);
});

// ---- the expiry notices banner ---------------------------------------------------------------------

step("tokens: a token expiring in 2 days brings a banner after the scan, until dismissed", async () => {
  const at = new Date(Date.now() + 2 * DAY_MS).toISOString();
  const c = await api("POST", `/tokens/v2/${await username()}`, { token: await pageAccess(),
    body: { note: names.soon, scopes: ["styles:read"], expires_at: at } });
  assert.equal(c.status, 200, JSON.stringify(c.data));
  await until(async () => {
    const r = await api("GET", "/api/v1/account/notices", { token: await pageAccess() });
    return r.status === 200 && r.data.notices.some(n => n.token.id === c.data.id);
  }, "the scan's notice (the server should run with --notice-scan-interval 1)");
  await page.reload();
  const banner = page.locator("#notices");
  const item = banner.locator("li", { hasText: names.soon });
  await assertVisibleText(item, /expires on \d{4}-\d\d-\d\d \d\d:\d\d UTC, in 1 day\./);
  assert.equal(await row(names.soon).locator(".badge.soon").count(), 1);
  await docShot("tokens");
  // "Change expiry" leads to the token's edit dialog.
  await item.getByRole("button", { name: /^Change expiry/ }).click();
  await assertVisibleText(page.locator("#edit-title"), names.soon);
  await page.keyboard.press("Escape");
  await item.getByRole("button", { name: /^Dismiss/ }).click();
  await item.waitFor({ state: "detached" });
  const rest = await api("GET", "/api/v1/account/notices", { token: await pageAccess() });
  assert.ok(!rest.data.notices.some(n => n.token.id === c.data.id), "dismissed in the store");
  assert.equal(await banner.isVisible(), rest.data.notices.length > 0, "the banner goes with the last notice");
  // Dismiss the others too (the 7-day token has one): no banner left.
  const dismiss = banner.getByRole("button", { name: /^Dismiss/ });
  for (let n = await dismiss.count(); n > 0; n--) {
    await dismiss.first().click();
    await until(async () => (await dismiss.count()) < n, "the notice to go");
  }
  await banner.waitFor({ state: "hidden" });
  await page.reload();
  await row(names.soon).waitFor();
  assert.ok(await banner.isHidden(), "still gone after a reload");
});

// ---- keyboard -------------------------------------------------------------------------------------

step("tokens: the keyboard reaches every control with a visible focus", async () => {
  await page.reload();
  await row(names.p90).waitFor();
  await page.locator("body").focus();
  const seen = new Set();
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press("Tab");
    const f = await page.evaluate(() => {
      const e = document.activeElement;
      const s = getComputedStyle(e);
      return { tag: e.tagName, label: e.getAttribute("aria-label") || e.textContent.trim().slice(0, 40) || e.id,
               outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 };
    });
    if (f.tag === "BODY") continue;
    assert.ok(f.outline, `focus on ${f.tag} "${f.label}" is visible`);
    seen.add(f.label);
  }
  for (const want of ["Tokens", "Settings", "Audit log", "Sign out", "Create token", `Revoke ${names.p90}`, `Rotate ${names.p90}`, `Edit ${names.p90}`])
    assert.ok([...seen].some(l => l.startsWith(want)), `Tab reaches ${want} (saw ${[...seen].join(", ")})`);
  // Every action is a real button.
  const fake = await page.evaluate(() => [...document.querySelectorAll("[onclick], a[href='#']")].length);
  assert.equal(fake, 0);
});

// ---- settings ----------------------------------------------------------------------------------------

step("settings: profile names and organization are saved", async () => {
  await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Settings" }).click();
  await page.waitForURL(/\/account\/settings\/$/);
  await assertVisibleText(page.locator("#email-text"), email);
  assert.equal(await page.getByLabel("First name").inputValue(), "Ada");
  await page.getByLabel("Last name").fill("Lovelace");
  await page.getByLabel("Organization").fill("Analytical Engines Ltd");
  await page.getByRole("button", { name: "Save profile" }).click();
  await assertVisibleText(page.locator("#profile-status"), "Profile saved.");
  const me = await api("GET", "/api/v1/account/me", { token: await pageAccess() });
  assert.equal(me.data.last_name, "Lovelace");
  assert.equal(me.data.organization, "Analytical Engines Ltd");
  await docShot("settings");
});

step("settings: password errors are said at their fields", async () => {
  await page.getByLabel("Current password").fill("not my password");
  await page.getByLabel(/^New password \(at least/).fill(newPassword);
  await page.getByLabel("New password again").fill(newPassword);
  await page.getByRole("button", { name: "Change password" }).click();
  await assertFieldError("#current_password", /current password is not correct/i);
  await page.getByLabel("Current password").fill(password);
  await page.getByLabel(/^New password \(at least/).fill("password");
  await page.getByLabel("New password again").fill("password");
  await page.getByRole("button", { name: "Change password" }).click();
  await assertFieldError("#new_password", /./);
  assert.equal(await page.locator("#current_password").getAttribute("aria-invalid"), null, "the earlier error is gone");
  await page.getByLabel(/^New password \(at least/).fill(newPassword);
  await page.getByLabel("New password again").fill(newPassword + "?");
  await page.getByRole("button", { name: "Change password" }).click();
  await assertFieldError("#new_password2", /do not match/);
  const r = await api("POST", "/api/v1/token/pair", { body: { email, password } });
  assert.equal(r.status, 200, "the password is unchanged");
});

step("settings: changing the password keeps this tab signed in and ends other sessions", async () => {
  const other = await api("POST", "/api/v1/token/pair", { body: { email, password } });
  assert.equal(other.status, 200);
  const old = await pageSession();
  await page.getByLabel(/^New password \(at least/).fill(newPassword);
  await page.getByLabel("New password again").fill(newPassword);
  await page.getByRole("button", { name: "Change password" }).click();
  await assertVisibleText(page.locator("#password-status"), "Password changed.");
  assert.equal(await page.getByLabel("Current password").inputValue(), "", "the form is cleared");
  const now = await pageSession();
  assert.notEqual(now.access, old.access, "the page took the new pair");
  assert.equal((await api("GET", "/api/v1/account/me", { token: now.access })).status, 200);
  assert.equal((await api("POST", "/api/v1/token/refresh", { body: { refresh: other.data.refresh } })).status, 401, "the other session ended");
  assert.equal((await api("POST", "/api/v1/token/pair", { body: { email, password: newPassword } })).status, 200);
  // Still signed in, page after page.
  await page.goto(BASE + "/account/tokens/");
  await row(names.p90).waitFor();
  assert.match(page.url(), /\/account\/tokens\/$/);
});

// ---- audit -------------------------------------------------------------------------------------------

step("audit: the account's events, newest first, page by page with Older", async () => {
  await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Audit log" }).click();
  await page.waitForURL(/\/account\/audit\/$/);
  await until(async () => (await page.locator("#events tr").count()) > 10, "the events so far");
  await docShot("audit", false);
  // More events than one page (25): a few profile saves through the API.
  for (let i = 0; i < 20; i++) {
    const r = await api("PATCH", "/api/v1/account/me", { token: await pageAccess(), body: { organization: "Org " + i } });
    assert.equal(r.status, 200);
  }
  const all = await until(async () => {
    const r = await api("GET", "/api/v1/account/audit?limit=200", { token: await pageAccess() });
    return r.status === 200 && r.data.events.filter(e => e.kind === "account.update").length >= 21 && r.data.events;
  }, "the audit writer to catch up");
  assert.ok(all.length > 25, `${all.length} events: more than a page`);
  await page.reload();
  const rows = page.locator("#events tr");
  await until(async () => (await rows.count()) === 25, "the first page of 25");
  const first = await rows.first().locator("td").allInnerTexts();
  assert.equal(first[1], "Account changed", "newest first");
  const older = page.getByRole("button", { name: "Older events" });
  for (let pages = 1; await older.isVisible(); pages++) {
    assert.ok(pages < 20, "paging ends");
    const n = await rows.count();
    await older.click();
    await until(async () => (await rows.count()) > n || !(await older.isVisible()), "the next page");
  }
  await assertVisibleText(page.locator("#end"), "oldest");
  assert.equal(await rows.count(), all.length, "every event, once");
  const text = await page.locator("#events").innerText();
  assert.ok(text.includes(names.p90), "a listed token goes by its name");
  for (const kind of ["Account created", "Sign-in failed", "Signed in", "Token created", "Token changed", "Token rotated", "Token revoked", "Password changed"])
    assert.ok(text.includes(kind), kind);
  assert.ok(!text.includes(password) && !text.includes(newPassword), "no password in the trail");
});

// ---- phone width ---------------------------------------------------------------------------------------

step("every page fits 390 px and keeps its actions reachable", async () => {
  await page.setViewportSize(PHONE);
  try {
    for (const p of ["/", "/account/register/", "/account/login/", "/account/forgot/", "/account/reset/"]) {
      await page.goto(BASE + p);
      await assertNoOverflow(p);
    }
    await page.goto(BASE + "/account/tokens/");
    await row(names.p90).waitFor();
    await assertNoOverflow("tokens");
    const r = row(names.p90);
    for (const b of ["Edit", "Rotate", "Revoke"]) await assertReachable(r.getByRole("button", { name: new RegExp("^" + b) }), `${b} at 390 px`);
    await assertReachable(page.locator("#default-box").getByRole("button", { name: /Rotate/ }), "default Rotate at 390 px");
    await assertReachable(page.locator("#default-box").getByRole("button", { name: /^Copy/ }), "default Copy at 390 px");
    await assertReachable(createForm().getByRole("button", { name: "Create token" }), "Create at 390 px");
    await page.locator("#list-title").scrollIntoViewIfNeeded();
    await page.evaluate(() => window.scrollBy(0, document.getElementById("list-title").getBoundingClientRect().top - 8));
    await docShot("tokens-390", false);
    // The dialogs fit too.
    await r.getByRole("button", { name: /^Edit/ }).click();
    await assertReachable(editDialog().getByRole("button", { name: "Save changes" }), "Save at 390 px");
    await assertNoOverflow("edit dialog");
    await page.keyboard.press("Escape");
    await page.goto(BASE + "/account/settings/");
    await assertVisibleText(page.locator("#email-text"), email);
    await assertNoOverflow("settings");
    for (const b of ["Save profile", "Change password", "Sign out everywhere", "Revoke all tokens"])
      await assertReachable(page.getByRole("button", { name: b }), `${b} at 390 px`);
    await page.goto(BASE + "/account/audit/");
    await until(async () => (await page.locator("#events tr").count()) === 25, "events");
    await assertNoOverflow("audit");
    await assertReachable(page.getByRole("button", { name: "Older events" }), "Older at 390 px");
  } finally {
    await page.setViewportSize(DESKTOP);
  }
});

// ---- revoke all, sign out everywhere, sign out --------------------------------------------------------

step("settings: revoke all tokens, after a confirmation; the default stays", async () => {
  await page.goto(BASE + "/account/settings/");
  await assertVisibleText(page.locator("#email-text"), email);
  await page.getByRole("button", { name: "Revoke all tokens" }).click();
  const dialog = page.locator("dialog.confirm");
  await assertVisibleText(dialog, /stops working/);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  assert.ok((await listed()).length > 2, "Escape revoked nothing");
  await page.getByRole("button", { name: "Revoke all tokens" }).click();
  await dialog.getByRole("button", { name: "Revoke all tokens" }).click();
  await assertVisibleText(page.locator("#revoke-status"), /^Revoked \d+ tokens\. The default public token stays\./);
  const left = await listed();
  assert.deepEqual(left.map(t => t.default), [true], "only the default pk is left");
  assert.equal(await tokenCode(secrets[pkName + " (production)"]), "TokenRevoked");
  await page.goto(BASE + "/account/tokens/");
  await assertVisibleText(page.locator("#tokens td.empty"), "No tokens yet");
  await assertVisibleText(page.locator("#default-token"), /^pk\./);
});

step("settings: sign out everywhere ends this session and the others", async () => {
  const other = await api("POST", "/api/v1/token/pair", { body: { email, password: newPassword } });
  assert.equal(other.status, 200);
  const mine = await pageSession();
  await page.goto(BASE + "/account/settings/");
  await assertVisibleText(page.locator("#email-text"), email);
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await page.locator("dialog.confirm").getByRole("button", { name: "Sign out everywhere" }).click();
  await page.waitForURL(/\/account\/login\/$/);
  for (const refresh of [mine.refresh, other.data.refresh])
    assert.equal((await api("POST", "/api/v1/token/refresh", { body: { refresh } })).status, 401);
  assert.equal((await api("GET", "/api/v1/account/me", { token: mine.access })).status, 401);
});

step("sign out ends the session", async () => {
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(newPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/account\/tokens\/$/);
  const s = await pageSession();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/account\/login\/$/);
  assert.equal((await api("POST", "/api/v1/token/refresh", { body: { refresh: s.refresh } })).status, 401);
  await page.goto(BASE + "/account/tokens/");
  await page.waitForURL(/\/account\/login\/$/);
});

step("forgot password: the mailed link sets a new password, with errors at the fields", async () => {
  assert.ok(OUTBOX, "TESSERA_OUTBOX names the server's outbox directory");
  const before = new Set(fs.existsSync(OUTBOX) ? fs.readdirSync(OUTBOX) : []);
  await page.goto(BASE + "/account/login/");
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.waitForURL(/\/account\/forgot\/$/);
  await page.getByRole("button", { name: "Send the link" }).click();
  await assertVisibleText(page.locator("#email-error"), "Enter your e-mail address.");
  await page.getByLabel("E-mail").fill(email);
  await page.getByRole("button", { name: "Send the link" }).click();
  await assertVisibleText(page.locator("#status"), /on its way/);
  const fresh = fs.readdirSync(OUTBOX).filter(f => f.endsWith(".eml") && !before.has(f));
  assert.equal(fresh.length, 1, "one message in the outbox");
  const mail = fs.readFileSync(path.join(OUTBOX, fresh[0]), "utf8");
  const link = /(https?:\/\/\S+\/account\/reset#token=[A-Za-z0-9_-]{43})/.exec(mail);
  assert.ok(link, "a reset link in:\n" + mail);
  await page.goto(link[1]);
  assert.ok(!page.url().includes("token="), "the secret leaves the address bar");
  await page.getByLabel(/^New password \(at least/).fill(resetPassword);
  await page.getByLabel("New password again").fill(resetPassword + "!");
  await page.getByRole("button", { name: "Set the password" }).click();
  await assertVisibleText(page.locator("#password2-error"), "The two passwords differ.");
  await page.getByLabel(/^New password \(at least/).fill("short");
  await page.getByLabel("New password again").fill("short");
  await page.getByRole("button", { name: "Set the password" }).click();
  await assertVisibleText(page.locator("#password1-error"), /\S/);
  assert.equal(await page.locator("#password1").getAttribute("aria-invalid"), "true");
  await page.getByLabel(/^New password \(at least/).fill(resetPassword);
  await page.getByLabel("New password again").fill(resetPassword);
  await page.getByRole("button", { name: "Set the password" }).click();
  await assertVisibleText(page.locator("#status"), /password is changed/);
  await page.waitForURL(/\/account\/login\/$/);
  assert.equal((await api("POST", "/api/v1/token/pair", { body: { email, password: newPassword } })).status, 401);
  assert.equal((await api("POST", "/api/v1/token/pair", { body: { email, password: resetPassword } })).status, 200);
});
