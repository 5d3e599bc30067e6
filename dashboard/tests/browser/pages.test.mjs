// The dashboard's pages in Debian's Chromium: the overview shows the stats
// API's figures and draws its chart; a click on a row filters the page and
// adds a chip; back and forward restore the view; the language switch
// changes labels and numbers; the realtime page updates after hits sent
// through the real collector; a note added from the page shows on the chart;
// the Tab key reaches every control in order with a visible focus; a shared
// link opens without an account (after its password); axe-core finds
// nothing serious; nothing is requested from another origin.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startMesure, launchChromium, sleep } from "../../../collector/tests/browser/harness.mjs";

let mesure;
let browser;
let dashboard;
/** The signed-in superuser's browser state, and its cookie for fetch. */
let signedIn;
let sessionCookie;
/** Paths of a shared link without and with a password. */
let sharedOpen;
let sharedLocked;
const EMAIL = "admin@mesure.test";
const PASSWORD = "a long enough password for tests";

before(async () => {
  mesure = await startMesure();
  mesure.run("demo-data", "--sites", "1", "--days", "40", "--events", "30000", "--seed", "3");
  mesure.run("site", "put", "live", "--host", "live.mesure.test", "--mode", "consent", "--organisation", "Ville de Démo");
  const port = await mesure.freePort();
  dashboard = `http://127.0.0.1:${port}`;
  mesure.spawn(["dashboard"], {
    MESURE_DASHBOARD_LISTEN: `127.0.0.1:${port}`,
    MESURE_DASHBOARD_SITES_REFRESH_SECONDS: "1",
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${dashboard}/readyz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error("the dashboard did not become ready");
    await sleep(100);
  }
  browser = await launchChromium();
  // A superuser signs in through the form once; every page of the tests
  // uses that session.
  const { writeFileSync, mkdtempSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const secret = join(mkdtempSync(join(tmpdir(), "mesure-browser-password-")), "password");
  writeFileSync(secret, `${PASSWORD}\n`);
  mesure.run("user", "add", EMAIL, "--superuser", "--password-file", secret);
  // Two shared links of the demo site: one open, one with a password.
  sharedOpen = String(mesure.run("link", "add", EMAIL, "--site", "demo-1", "--name", "Conseil")).trim();
  sharedLocked = String(
    mesure.run("link", "add", EMAIL, "--site", "demo-1", "--name", "Presse", "--password-file", secret),
  ).trim();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${dashboard}/sites/demo-1?lang=en`);
  await page.waitForURL(/\/sign-in\?next=/);
  await page.fill("input[name=email]", EMAIL);
  await page.fill("input[name=password]", PASSWORD);
  await Promise.all([page.waitForURL(/\/sites\/demo-1\?lang=en$/), page.click("form.sign-in button")]);
  signedIn = await context.storageState();
  const [cookie] = signedIn.cookies;
  sessionCookie = `${cookie.name}=${cookie.value}`;
  await context.close();
});

after(async () => {
  await browser?.close();
  mesure?.stop();
});

/** A page that records every request, and fails on any script error. */
async function open(path, locale = "en-GB") {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 }, storageState: signedIn });
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(String(e)));
  // The pages' policy refuses anything but their own scripts and styles.
  page.on("console", (m) => m.text().includes("Content Security Policy") && errors.push(m.text()));
  await page.goto(`${dashboard}${path}`);
  return { page, requests, errors, context };
}

async function api(body) {
  const answer = await fetch(`${dashboard}/api/v2/query`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: sessionCookie },
    body: JSON.stringify(body),
  });
  assert.equal(answer.status, 200, await answer.clone().text());
  return answer.json();
}

test("the overview shows the API's figures, draws its chart and stays on its origin", async () => {
  const { page, requests, errors, context } = await open("/sites/demo-1?lang=en");
  await page.waitForSelector("#chart-canvas[data-drawn] canvas");
  const figures = await page.$$eval("dl.figures dd:not(.change)", (nodes) => nodes.map((n) => n.textContent));
  const answer = await api({ site_id: "demo-1", date_range: "30d", metrics: ["visitors", "visits", "pageviews"] });
  const english = new Intl.NumberFormat("en");
  assert.deepEqual(figures.slice(0, 3), answer.results[0].metrics.map((n) => english.format(n)));
  for (const url of requests) assert.equal(new URL(url).origin, dashboard, url);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a row filters the page, its chip removes it, and back and forward restore the view", async () => {
  const { page, context } = await open("/sites/demo-1?lang=en");
  const before = await page.textContent("dl.figures dd");
  await page.click("section[aria-labelledby='panel-sources'] tbody tr:first-child a");
  await page.waitForURL(/f=is%7Cvisit%3Achannel/);
  const chip = page.locator("ul.chips a").first();
  assert.match(await chip.textContent(), /Channel is/);
  const filtered = await page.textContent("dl.figures dd");
  assert.notEqual(filtered, before);
  await page.goBack();
  assert.equal(await page.locator("ul.chips").count(), 0);
  assert.equal(await page.textContent("dl.figures dd"), before);
  await page.goForward();
  assert.equal(await page.locator("ul.chips a").count(), 1);
  await chip.click();
  await page.waitForURL((url) => !url.search.includes("f="));
  assert.equal(await page.locator("ul.chips").count(), 0);
  await context.close();
});

test("the language switch changes every label and the number format", async () => {
  const { page, context } = await open("/sites/demo-1", "fr-FR");
  assert.equal(await page.getAttribute("html", "lang"), "fr");
  assert.match(await page.textContent("main"), /Visiteurs/);
  const french = await page.textContent("dl.figures dd");
  await page.click("a[hreflang=en]");
  await page.waitForURL(/lang=en/);
  assert.equal(await page.getAttribute("html", "lang"), "en");
  const text = await page.textContent("main");
  assert.match(text, /Visitors/);
  assert.doesNotMatch(text, /Visiteurs/);
  const english = await page.textContent("dl.figures dd");
  assert.equal(english.replaceAll(",", ""), french.replaceAll("\u202f", ""));
  await context.close();
});

/** `days` before the date `iso` (YYYY-MM-DD). */
function daysBefore(iso, days) {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - days);
  return date.toISOString().slice(0, 10);
}

test("a note added from the overview is listed, drawn on the chart, and removed", async () => {
  const { page, errors, context } = await open("/sites/demo-1?lang=en");
  const today = await page.inputValue("details.add-note input[name=date]");
  for (const [back, text] of [[3, "Radio campaign"], [10, "New site online"]]) {
    await page.click("details.add-note summary");
    await page.fill("details.add-note input[name=date]", daysBefore(today, back));
    await page.fill("details.add-note input[name=text]", text);
    await Promise.all([page.waitForURL(/#annotations$/), page.click("details.add-note button[type=submit]")]);
  }
  await page.waitForSelector("#chart-canvas[data-notes='2']");
  // In date order, numbered as the chart numbers them.
  const listed = await page.$$eval("ol.notes li", (items) => items.map((li) => [li.dataset.note, li.querySelector(".note-text").textContent]));
  assert.deepEqual(listed, [[daysBefore(today, 10), "New site online"], [daysBefore(today, 3), "Radio campaign"]]);
  // Not on a chart that does not cover its date.
  await page.goto(`${dashboard}/sites/demo-1?lang=en&period=day`);
  await page.waitForSelector("#chart-canvas[data-drawn]");
  assert.equal(await page.locator("ol.notes li").count(), 0);
  await page.goBack();
  await Promise.all([
    page.waitForURL(/#annotations$/),
    page.click("button[aria-label='Remove the note “New site online”']"),
  ]);
  await page.waitForSelector("#chart-canvas[data-notes='1']");
  assert.equal(await page.locator("ol.notes li").count(), 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the realtime page updates after hits reach the collector", async () => {
  const { page, errors, context } = await open("/sites/live/realtime?lang=en");
  assert.equal(await page.textContent("#rt-5m"), "0");
  // The collector learns the site within its reload delay: send until a
  // hit is stored.
  for (let i = 0; ; i++) {
    const answer = await fetch(`${mesure.base}/api/event`, {
      method: "POST",
      headers: {
        "content-type": "text/plain",
        "user-agent": `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.${i}.0 Safari/537.36`,
      },
      body: JSON.stringify({ n: "pageview", u: `https://live.mesure.test/now/${i}`, d: "live.mesure.test" }),
    });
    assert.ok(answer.status < 500, String(answer.status));
    const [{ n }] = await mesure.query("SELECT count() AS n FROM mesure.events WHERE site_id = 'live'");
    if (Number(n) > 0) break;
    assert.ok(i < 60, "no hit of the site was stored");
    await sleep(500);
  }
  await page.waitForFunction(() => document.getElementById("rt-5m").textContent !== "0", null, { timeout: 30_000 });
  assert.ok(Number(await page.textContent("#rt-5m")) >= 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("screenshots of each page at desktop and phone width, in both languages", async () => {
  const { mkdirSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { root } = await import("../../../collector/tests/browser/harness.mjs");
  const out = join(root, "target", "browser");
  mkdirSync(out, { recursive: true });
  const pages = { sites: "/", overview: "/sites/demo-1", details: "/sites/demo-1/details/event%3Apage", realtime: "/sites/live/realtime" };
  for (const [name, path] of Object.entries(pages)) {
    for (const lang of ["fr", "en"]) {
      for (const [width, kind] of [[1280, "desktop"], [360, "phone"]]) {
        const context = await browser.newContext({ viewport: { width, height: 800 }, storageState: signedIn });
        const page = await context.newPage();
        const answer = await page.goto(`${dashboard}${path}${path.includes("?") ? "&" : "?"}lang=${lang}`);
        assert.equal(answer.status(), 200, `${name} ${lang}`);
        // Nothing wider than the screen.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
        assert.ok(overflow <= 1, `${name} ${lang} ${kind}: ${overflow} px too wide`);
        await page.screenshot({ path: join(out, `dashboard-${name}-${lang}-${kind}.png`), fullPage: true });
        await context.close();
      }
    }
  }
});

test("the keyboard reaches every control of each page in order, with a visible focus", async () => {
  for (const path of ["/", "/sites/demo-1", "/sites/demo-1/details/visit%3Acountry", "/sites/live/realtime"]) {
    const { page, context } = await open(`${path}?lang=en`);
    // Every control a visitor can see, in document order.
    const expected = await page.evaluate(() => {
      const controls = [...document.querySelectorAll(
        "a[href], button, input:not([type=hidden]), select, summary, [tabindex]:not([tabindex='-1'])")];
      return controls
        .filter((el) => el.classList.contains("skip") || el.checkVisibility())
        .map((el, i) => { el.dataset.walk = String(i); return String(i); });
    });
    const reached = [];
    for (let i = 0; i < expected.length + 1; i++) {
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const box = el.getBoundingClientRect();
        const style = getComputedStyle(el);
        return {
          walk: el.dataset.walk,
          what: `${el.tagName.toLowerCase()} ${el.textContent.trim().slice(0, 40)}`,
          shown: box.width > 0 && box.height > 0 && box.right > 0 && box.left < innerWidth,
          ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
        };
      });
      if (!focused) break;
      assert.ok(focused.shown, `${path}: ${focused.what} is focused out of sight`);
      assert.ok(focused.ring, `${path}: ${focused.what} shows no focus ring`);
      reached.push(focused.walk);
    }
    // The skip link first, then every control in order; nothing traps the focus.
    assert.deepEqual(reached, expected, path);
    await context.close();
  }
  // The skip link takes the keyboard to the content.
  const { page, context } = await open("/sites/demo-1?lang=en");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab");
  assert.ok(await page.evaluate(() => document.querySelector("main").contains(document.activeElement)));
  await context.close();
});

test("a shared link shows its site's overview to a browser without an account, after its password", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.text().includes("Content Security Policy") && errors.push(m.text()));
  await page.goto(`${dashboard}${sharedOpen}?lang=en`);
  await page.waitForSelector("#chart-canvas[data-drawn] canvas");
  assert.equal(await page.textContent("h1"), "demo-1");
  assert.equal(await page.locator("a[href^='/sites/'], form[method=post]").count(), 0);
  await page.goto(`${dashboard}${sharedLocked}?lang=en`);
  await page.fill("input[name=password]", PASSWORD);
  await Promise.all([page.waitForSelector("#chart-canvas[data-drawn] canvas"), page.click("form.sign-in button")]);
  assert.equal(await page.textContent("h1"), "demo-1");
  // Once per browser: the link opens again without asking.
  await page.goto(`${dashboard}${sharedLocked}?lang=en&period=7d`);
  assert.equal(await page.locator("input[name=password]").count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test("axe-core finds no serious or critical violation on any page, in either language", async () => {
  const { readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { root } = await import("../../../collector/tests/browser/harness.mjs");
  const axe = readFileSync(join(root, "node_modules/axe-core/axe.min.js"), "utf8");
  const pages = [
    "/", "/sites/demo-1", "/sites/demo-1/details/visit%3Acountry", "/sites/live/realtime", "/sites/nowhere", "/sign-in",
    "/sites/demo-1/settings", "/sites/new", "/audit", "/sites/demo-1/users", "/sites/demo-1/links", "/account",
    "/organisations/Ville%20de%20D%C3%A9mo", "/sites/demo-1/notice", "/sites/demo-1/assessment",
  ];
  // What people without an account see: the sign-in form, a shared link's
  // pages and a shared link's password form.
  const anonymous = ["/sign-in", sharedOpen, `${sharedOpen}/details/visit%3Asource`, sharedLocked];
  for (const path of [...pages, ...anonymous.slice(1)]) {
    for (const lang of ["fr", "en"]) {
      for (const scheme of ["light", "dark"]) {
        // axe-core is added as an inline script, which the pages' policy
        // refuses: the policy is set aside for this check only.
        const context = await browser.newContext({
          colorScheme: scheme,
          bypassCSP: true,
          storageState: anonymous.includes(path) ? undefined : signedIn,
        });
        const page = await context.newPage();
        await page.goto(`${dashboard}${path}?lang=${lang}`);
        // The test's own copy of axe-core, added to the page it checks.
        await page.addScriptTag({ content: axe });
        const result = await page.evaluate(() =>
          window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }));
        const serious = result.violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
        assert.deepEqual(serious, [], `${path} ${lang} ${scheme}`);
        await context.close();
      }
    }
  }
});
