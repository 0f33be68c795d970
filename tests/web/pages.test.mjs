// End-to-end test of Tessera's web pages (SPEC §4.4), driven like a person
// would in Debian's chromium through playwright-core:
//   register (with the visible errors for mismatched and weak passwords),
//   sign in (with the visible error for a wrong password), the tokens page
//   (default public token listed, create with a scope choice, a dated STAC
//   token, a secret shown once, revoke after a confirm dialog), sign out.
// Each credential the pages hand out is checked against the API with fetch.
//
//   TESSERA_URL=http://127.0.0.1:8080 node --test pages.test.mjs
//
// Optional: CHROMIUM (default /usr/bin/chromium); TESSERA_SCREENSHOT_DIR to
// keep a screenshot of every step (on failure one is always written, to a
// temporary directory unless this is set).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const BASE = (process.env.TESSERA_URL || "").replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 30_000; // password hashing under sanitizers can be slow
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const run = Date.now().toString(36) + process.pid;
const email = `web-${run}@example.com`;
const password = "correct horse battery staple";
const pkName = `styles reader ${run}`;
const stacName = `stac nightly ${run}`;

let context, page, profileDir, shotDir, broken = false, shotCount = 0;
const pageErrors = [];
const secrets = {}; // name -> secret shown once by the page

function utcDatePlus(days) {
  return new Date(Date.now() + days * 86400_000).toISOString().slice(0, 10);
}

async function snap(name, force) {
  if (!page) return null;
  if (!shotDir && !force) return null;
  if (!shotDir) shotDir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-web-shots-"));
  const file = path.join(shotDir, `${String(++shotCount).padStart(2, "0")}-${name.replace(/[^a-z0-9]+/gi, "_")}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true });
    return file;
  } catch (e) {
    return null;
  }
}

// A step of the one scenario: later steps are skipped once one fails, and a
// failure leaves a screenshot and the page's text behind.
function step(name, fn) {
  test(name, async (t) => {
    if (broken) { t.skip("an earlier step failed"); return; }
    try {
      await fn(t);
      assert.deepEqual(pageErrors, [], "uncaught errors in the page's scripts");
      await snap(name, false);
    } catch (e) {
      broken = true;
      const file = await snap("FAILED " + name, true);
      let text = "";
      try { text = await page.locator("body").innerText(); } catch (_) { /* page gone */ }
      // Node prints the stack (made when the error was), so extend that.
      e.stack = (e.stack || String(e)) + `\n  page: ${page ? page.url() : "?"}` +
        (file ? `\n  screenshot: ${file}` : "") + `\n  page text:\n${text.replace(/^/gm, "    ")}`;
      throw e;
    }
  });
}

// The API, as any client sees it.
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

// The account's token (without secret) with this id, listed through the API
// with the page's own session.
async function storedToken(id) {
  const access = await page.evaluate(() => tessera.session().access);
  const r = await api("GET", "/api/v1/account/tokens", { token: access });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  const t = r.data.find(x => x.id === id);
  assert.ok(t, `token ${id} not in ${JSON.stringify(r.data)}`);
  return t;
}

const status = () => page.locator("#status");
const row = name => page.locator("#tokens tr", { hasText: name });

before(async () => {
  assert.ok(BASE, "set TESSERA_URL to the server to test, e.g. http://127.0.0.1:8080");
  assert.ok(fs.existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (scripts/deps.sh installs Debian's chromium)`);
  if (process.env.TESSERA_SCREENSHOT_DIR) {
    shotDir = process.env.TESSERA_SCREENSHOT_DIR;
    fs.mkdirSync(shotDir, { recursive: true });
  }
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-web-profile-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS,
    viewport: { width: 1100, height: 800 }, timeout: 60_000,
  });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] || await context.newPage();
  page.on("pageerror", err => pageErrors.push(String(err)));
  page.on("dialog", d => d.dismiss()); // a dialog nobody expects is refused (tests override with once())
});

after(async () => {
  if (context) await context.close();
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  if (shotDir) console.log(`screenshots in ${shotDir}`);
});

step("the pages and their shared assets are served", async () => {
  for (const p of ["/account/register/", "/account/login/", "/account/tokens/"]) {
    const res = await page.goto(BASE + p);
    assert.equal(res.status(), 200, p);
    assert.match(res.headers()["content-type"], /^text\/html/, p);
  }
  // The stylesheet really applies (buttons take the accent colour).
  await page.goto(BASE + "/account/register/");
  const bg = await page.locator("button[type=submit]").evaluate(b => getComputedStyle(b).backgroundColor);
  assert.equal(bg, "rgb(31, 111, 235)");
});

step("without a session the tokens page sends you to sign in", async () => {
  await page.goto(BASE + "/account/tokens/");
  await page.waitForURL(/\/account\/login\/$/);
});

step("register: mismatched passwords give a visible error", async () => {
  await page.goto(BASE + "/account/register/");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("First name (optional)").fill("Ada");
  await page.getByLabel(/^Password \(at least/).fill(password);
  await page.getByLabel("Password again").fill(password + "!");
  await page.getByRole("button", { name: "Register" }).click();
  await assertVisibleError(status(), /match/i);
  assert.match(page.url(), /\/account\/register\/$/);
});

step("register: a weak password gives a visible error", async () => {
  await page.getByLabel(/^Password \(at least/).fill("password");
  await page.getByLabel("Password again").fill("password");
  await page.getByRole("button", { name: "Register" }).click();
  await assertVisibleError(status(), /common|weak|short|password/i);
  // The weak attempt created nothing: the e-mail still cannot sign in.
  const r = await api("POST", "/api/v1/token/pair", { body: { email, password: "password" } });
  assert.equal(r.status, 401);
});

step("register: a good password creates the account and leads to sign in", async () => {
  await page.getByLabel(/^Password \(at least/).fill(password);
  await page.getByLabel("Password again").fill(password);
  await page.getByRole("button", { name: "Register" }).click();
  await assertVisibleText(status(), /Account created/);
  assert.equal(await status().getAttribute("class"), "ok");
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
});

step("tokens: the default public token is listed and scopes offered", async () => {
  const def = row("(default)");
  await def.waitFor();
  assert.equal(await def.count(), 1);
  const cells = await def.locator("td").allInnerTexts();
  assert.equal(cells[1], "pk");
  assert.match(cells[2], /styles:read/);
  assert.equal(cells[4], "never");
  assert.equal(cells[5], "never", "the default public token was never used");
  for (const s of ["styles:read", "stac", "catalog:read"]) {
    assert.equal(await page.locator(`#scopes input[type=checkbox][value="${s}"]`).count(), 1, s);
  }
  assert.ok(await page.locator("#secret-box").isHidden(), "no secret is shown before one is created");
});

step("tokens: creating without a scope is refused with a message", async () => {
  await page.getByLabel("Name").fill("nothing");
  await page.getByRole("button", { name: "Create token" }).click();
  await assertVisibleError(page.locator("#create-status"), /at least one scope/);
  assert.equal(await row("nothing").count(), 0);
});

step("tokens: create a token with a chosen scope and see its secret once", async () => {
  await page.getByLabel("Name").fill(pkName);
  await page.locator('#scopes input[value="styles:read"]').check();
  await page.getByRole("button", { name: "Create token" }).click();
  await assertVisibleText(page.locator("#create-status"), "Token created.");
  const secret = (await page.locator("#secret").innerText()).trim();
  assert.match(secret, /^pk\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  secrets[pkName] = secret;
  await row(pkName).waitFor();
  const cells = await row(pkName).locator("td").allInnerTexts();
  assert.deepEqual(cells.slice(1, 3), ["pk", "styles:read"]);
  // The form is ready for the next token.
  assert.equal(await page.getByLabel("Name").inputValue(), "");
  assert.equal(await page.locator("#scopes input:checked").count(), 0);
  // The secret works, with exactly the chosen scope.
  const r = await api("GET", "/tokens/v2", { token: secret });
  assert.equal(r.data.code, "TokenValid", JSON.stringify(r.data));
  assert.equal(r.data.token.usage, "pk");
  const stored = await storedToken(r.data.token.authorization);
  assert.equal(stored.name, pkName);
  assert.deepEqual(stored.scopes, ["styles:read"]);
});

step("tokens: create a dated STAC token and see its secret", async () => {
  const date = utcDatePlus(7);
  await page.getByLabel("Name").fill(stacName);
  await page.locator('#scopes input[value="stac"]').check();
  await page.locator('#scopes input[value="catalog:read"]').check();
  await page.getByLabel(/^Valid through/).fill(date);
  await page.getByRole("button", { name: "Create token" }).click();
  await assertVisibleText(page.locator("#create-status"), "Token created.");
  await row(stacName).waitFor();
  const secret = (await page.locator("#secret").innerText()).trim();
  assert.match(secret, /^sk\./);
  assert.notEqual(secret, secrets[pkName]);
  secrets[stacName] = secret;
  const cells = await row(stacName).locator("td").allInnerTexts();
  assert.equal(cells[1], "sk");
  assert.deepEqual(cells[2].split(" ").sort(), ["catalog:read", "stac"]);
  assert.equal(cells[4], date, "the list shows the expiry date that was chosen");
  const check = await api("GET", "/tokens/v2", { token: secret });
  assert.equal(check.data.code, "TokenValid", JSON.stringify(check.data));
  const stored = await storedToken(check.data.token.authorization);
  assert.equal(stored.name, stacName);
  assert.equal(stored.expires, utcDatePlus(8) + "T00:00:00.000Z", "valid through the end of the chosen day (UTC)");
  const search = await api("GET", "/api/v1/stac/search?limit=1", { token: secret });
  assert.notEqual(search.status, 401, JSON.stringify(search.data));
});

step("tokens: after a reload the secrets are gone but the tokens are listed", async () => {
  await page.reload();
  await row(stacName).waitFor();
  await row(pkName).waitFor();
  await row("(default)").waitFor();
  assert.ok(await page.locator("#secret-box").isHidden(), "secret box hidden after reload");
  assert.equal((await page.locator("#secret").innerText()).trim(), "");
  const html = await page.content();
  for (const [name, secret] of Object.entries(secrets)) {
    const part = secret.split(".")[2];
    assert.ok(!html.includes(part), `the secret of "${name}" is shown again after a reload`);
  }
  // Nor is it kept in the browser's storage.
  const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
  for (const secret of Object.values(secrets)) assert.ok(!stored.includes(secret.split(".")[2]));
});

step("tokens: an access token that no longer works is renewed with the refresh token", async () => {
  const before = await page.evaluate(() => {
    const s = tessera.session();
    const old = s.access;
    s.access = "not-a-token";
    tessera.saveSession(s);
    return { old, refresh: s.refresh };
  });
  await page.reload();
  await row(pkName).waitFor();
  await assertVisibleText(page.locator("#who"), email);
  const after = await page.evaluate(() => tessera.session());
  assert.notEqual(after.access, "not-a-token");
  assert.notEqual(after.refresh, before.refresh, "the refresh token rotated");
  const me = await api("GET", "/api/v1/account/me", { token: after.access });
  assert.equal(me.status, 200, JSON.stringify(me.data));
  assert.equal(me.data.email, email);
});

step("tokens: cancelling the confirm dialog keeps the token", async () => {
  const messages = [];
  page.removeAllListeners("dialog");
  page.on("dialog", d => { messages.push(d.message()); d.dismiss(); });
  await row(pkName).getByRole("button", { name: "Revoke" }).click();
  await page.waitForTimeout(300);
  assert.equal(messages.length, 1);
  assert.ok(messages[0].includes(pkName), messages[0]);
  assert.equal(await row(pkName).count(), 1);
  assert.equal(await tokenCode(secrets[pkName]), "TokenValid");
});

step("tokens: revoke after accepting the confirm dialog and it disappears", async () => {
  const messages = [];
  page.removeAllListeners("dialog");
  page.on("dialog", d => { messages.push(d.message()); d.accept(); });
  await row(stacName).getByRole("button", { name: "Revoke" }).click();
  await row(stacName).waitFor({ state: "detached" });
  assert.equal(messages.length, 1);
  assert.ok(messages[0].includes(stacName), messages[0]);
  await assertVisibleText(page.locator("#list-status"), "Revoked.");
  assert.equal(await row(pkName).count(), 1, "the other token stays");
  page.removeAllListeners("dialog");
  page.on("dialog", d => d.dismiss());
  // Revoked for real, at once; the other token is untouched.
  assert.equal(await tokenCode(secrets[stacName]), "TokenRevoked");
  const search = await api("GET", "/api/v1/stac/search?limit=1", { token: secrets[stacName] });
  assert.equal(search.status, 401, JSON.stringify(search.data));
  assert.equal(await tokenCode(secrets[pkName]), "TokenValid");
  // Still gone after a reload.
  await page.reload();
  await row(pkName).waitFor();
  assert.equal(await row(stacName).count(), 0);
});

step("tokens: rotate shows a new secret and keeps the old one for the grace period", async () => {
  const messages = [];
  page.removeAllListeners("dialog");
  page.on("dialog", d => { messages.push(d.message()); d.accept(); });
  const oldSecret = secrets[pkName];
  await row(pkName).getByRole("button", { name: "Rotate" }).click();
  await assertVisibleText(page.locator("#list-status"), "Rotated");
  page.removeAllListeners("dialog");
  page.on("dialog", d => d.dismiss());
  assert.equal(messages.length, 1);
  assert.ok(messages[0].includes(pkName), messages[0]);
  const fresh = (await page.locator("#secret").innerText()).trim();
  assert.ok(fresh.startsWith("pk.") && fresh !== oldSecret, fresh);
  assert.equal(await tokenCode(fresh), "TokenValid");
  assert.equal(await tokenCode(oldSecret), "TokenValid", "the old secret works for an hour");
  secrets[pkName] = fresh;
});

step("sign out ends the session", async () => {
  await page.getByRole("link", { name: "Sign out" }).click();
  await page.waitForURL(/\/account\/login\/$/);
  await page.goto(BASE + "/account/tokens/");
  await page.waitForURL(/\/account\/login\/$/);
});

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

async function assertVisibleError(locator, expected) {
  const text = await assertVisibleText(locator, expected);
  assert.equal(await locator.getAttribute("class"), "error", `"${text}" is shown as an error`);
  // Red on the page, not just a class name.
  const color = await locator.evaluate(el => getComputedStyle(el).color);
  assert.equal(color, "rgb(180, 35, 24)");
  return text;
}
