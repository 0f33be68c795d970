// The API reference page (/api/v1/docs) in Debian's chromium through
// playwright-core: Swagger UI, served by Tessera itself, renders every
// operation of /api/v1/openapi.json and "Try it out" calls this server with a
// Bearer token given to Authorize. The browser may reach nothing but this
// server: every other request is blocked, and the test fails if one was even
// attempted (no CDN, no validator badge, no fonts from elsewhere).
//
//   TESSERA_URL=http://127.0.0.1:8080 node --test docs.test.mjs
//
// Optional: CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const BASE = (process.env.TESSERA_URL || "").replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 30_000;
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let context, page, profileDir;
const blocked = [];      // requests that tried to leave this server
const requested = [];    // every URL the page asked for
const pageErrors = [];   // uncaught script errors
const consoleErrors = []; // console errors, CSP violations among them

before(async () => {
  assert.ok(BASE, "set TESSERA_URL to the server to test, e.g. http://127.0.0.1:8080");
  assert.ok(fs.existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (scripts/deps.sh installs Debian's chromium)`);
  const origin = new URL(BASE).origin;
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-docs-profile-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS,
    viewport: { width: 1280, height: 900 }, timeout: 60_000,
  });
  context.setDefaultTimeout(TIMEOUT);
  // Offline: only this server answers; anything else is refused and noted.
  await context.route("**/*", route => {
    const url = route.request().url();
    requested.push(url);
    if (new URL(url).origin === origin) return route.continue();
    blocked.push(url);
    return route.abort("internetdisconnected");
  });
  page = context.pages()[0] || await context.newPage();
  page.on("pageerror", err => pageErrors.push(String(err)));
  page.on("console", msg => { if (msg.type() === "error") consoleErrors.push(msg.text()); });
  page.on("dialog", d => d.dismiss());
});

after(async () => {
  if (context) await context.close();
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
});

async function api(method, p, body) {
  const res = await fetch(BASE + p, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, data: await res.json() };
}

const operationsOf = doc => Object.entries(doc.paths).flatMap(([p, item]) =>
  Object.entries(item).filter(([m]) => ["get", "put", "post", "delete", "patch", "head", "options"].includes(m))
    .map(([m, op]) => ({ method: m, path: p, op })));

test("Swagger UI renders every operation of openapi.json, offline", async () => {
  const res = await page.goto(BASE + "/api/v1/docs");
  assert.equal(res.status(), 200);
  assert.match(res.headers()["content-security-policy"] || "", /default-src 'none'/);
  const doc = (await api("GET", "/api/v1/openapi.json")).data;
  await page.locator(".swagger-ui .info .title").filter({ hasText: doc.info.title }).waitFor();
  const ops = operationsOf(doc);
  assert.ok(ops.length > 30, `only ${ops.length} operations in the document`);
  await page.locator(".opblock").first().waitFor();
  assert.equal(await page.locator(".opblock").count(), ops.length, "one block per operation");
  // Each operation is there under its method and path, by its operationId.
  const shown = await page.locator(".opblock").evaluateAll(blocks => blocks.map(b => [
    b.querySelector(".opblock-summary-method")?.textContent.toLowerCase(),
    b.querySelector(".opblock-summary-path")?.getAttribute("data-path"),
    b.id]));
  for (const { method, path: p, op } of ops) {
    assert.ok(shown.some(([m, sp, id]) => m === method && sp === p && id.endsWith("-" + op.operationId)),
      `${method.toUpperCase()} ${p} (${op.operationId}) is not rendered`);
  }
  // Its stylesheet applied: the GET badges take Swagger UI's blue.
  const bg = await page.locator(".opblock-get .opblock-summary-method").first()
    .evaluate(e => getComputedStyle(e).backgroundColor);
  assert.equal(bg, "rgb(97, 175, 254)");
});

test("Try it out calls this server with the Bearer token given to Authorize", async () => {
  const email = `docs-${Date.now().toString(36)}${process.pid}@example.com`;
  const password = "correct horse battery staple";
  assert.equal((await api("POST", "/api/v1/account/register", { email, password })).status, 201);
  const pair = await api("POST", "/api/v1/token/pair", { email, password });
  assert.equal(pair.status, 200, JSON.stringify(pair.data));

  await page.getByRole("button", { name: /Authorize/ }).first().click();
  const dialog = page.locator(".dialog-ux .modal-ux");
  await dialog.waitFor();
  // The session endpoints name the sessionJWT scheme; give it the access JWT.
  const scheme = dialog.locator(".auth-container", { has: page.locator("h4", { hasText: "sessionJWT" }) });
  await scheme.locator("input").fill(pair.data.access);
  await scheme.getByRole("button", { name: "Apply credentials" }).click();
  await scheme.getByRole("button", { name: "Remove authorization" }).waitFor();
  await dialog.locator("button.close-modal").click();
  await dialog.waitFor({ state: "detached" });

  const block = page.locator(".opblock", { has: page.locator('.opblock-summary-path[data-path="/api/v1/account/me"]') })
    .filter({ has: page.locator(".opblock-summary-method", { hasText: "GET" }) });
  await block.locator(".opblock-summary-control").click();
  await block.getByRole("button", { name: "Try it out" }).click();
  await block.getByRole("button", { name: "Execute" }).click();
  const live = block.locator(".live-responses-table");
  await live.locator(".response-col_status").filter({ hasText: "200" }).waitFor();
  const body = await live.locator(".response-col_description .microlight").first().innerText();
  assert.equal(JSON.parse(body).email, email);
  // The request Swagger UI shows is the one it made: to this server, with the token.
  const curl = await block.locator(".curl-command").innerText();
  assert.ok(curl.includes(BASE + "/api/v1/account/me"), curl);
  assert.ok(curl.includes("Authorization: Bearer"), curl);
});

test("nothing but this server was asked for anything, and nothing broke", () => {
  assert.deepEqual(blocked, [], "requests beyond this server");
  assert.ok(requested.some(u => u.endsWith("/static/swagger/swagger-ui-bundle.js")), requested.join("\n"));
  assert.deepEqual(pageErrors, [], "uncaught errors in the page's scripts");
  assert.deepEqual(consoleErrors, [], "console errors (a Content-Security-Policy violation among them?)");
});
