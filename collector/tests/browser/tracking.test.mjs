// Real browsers and real clients against a running Mesure: the site script,
// the <noscript> pixel, Matomo's snippet and npm client, Plausible's npm
// library and snippet, Matomo's Node client, DNT, GPC and the opt-out.
// Rows are read back from ClickHouse. Run by `make test`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { get } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { SITES, launchChromium, root, sleep, startMesure, startSites } from "./harness.mjs";

const require = createRequire(join(root, "package.json"));
let mesure, sites, browser, stats, web;

const html = (head, body) =>
  `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Test</title>${head}</head><body>${body}</body></html>`;
const links = (port) =>
  `<a id="next" href="/suite">Suite</a> <a id="out" href="http://ailleurs.mesure.test:${port}/dehors">Ailleurs</a> ` +
  `<a id="file" href="/docs/rapport.pdf">Rapport</a> <button id="signup">Inscription</button> <button id="play">Lecture</button>`;
const script = (body) => ({ type: "text/javascript; charset=utf-8", body });
const pdf = { type: "application/pdf", headers: { "Content-Disposition": "attachment" }, body: "%PDF-1.4\n" };

before(async () => {
  mesure = await startMesure();
  stats = `http://stats.mesure.test:${mesure.port}`;
  // Pages name the site server's port, known once it listens: they are
  // filled in below, before any browser asks for them.
  const pages = {};
  sites = await startSites(pages);
  const port = sites.port;
  web = (host, path = "/") => `http://${host}:${port}${path}`;
  // Strict CSP: no inline script, no eval; only the collector besides self.
  const csp = {
    "Content-Security-Policy": `default-src 'self'; script-src 'self' ${stats}; connect-src ${stats}; img-src 'self' ${stats}`,
  };
  const mesurePage = (extra = "") => ({
    headers: csp,
    body: html(
      `<script defer src="${stats}/m.js" data-site="script" data-outbound data-downloads${extra}></script><script defer src="/app.js"></script>`,
      links(port),
    ),
  });
  pages[SITES.script.host] = {
    "/": mesurePage(),
    "/apres-refus": mesurePage(),
    "/apres-accord": mesurePage(),
    "/dnt": mesurePage(),
    "/gpc": mesurePage(),
    "/app.js": script(`
      document.getElementById('next').addEventListener('click', function (e) { e.preventDefault(); history.pushState({}, '', '/suite') })
      document.getElementById('signup').addEventListener('click', function () { mesure('Signup', { props: { plan: 'pro' } }) })`),
    "/docs/rapport.pdf": pdf,
    "/confidentialite": {
      headers: csp,
      body: html(`<script defer src="${stats}/optout.js"></script>`, `<div id="mesure-optout"></div>`),
    },
  };
  pages["ailleurs.mesure.test"] = { "/dehors": { body: html("", "Ailleurs") } };
  pages[SITES.pixel.host] = {
    "/sans-js": {
      body: html("", `<noscript><img src="${stats}/p.gif?s=pixel" alt="" referrerpolicy="no-referrer-when-downgrade"></noscript>`),
    },
  };
  // Matomo's own snippet, as sites paste it, only the host changed.
  const matomoSnippet = `<script>
    var _paq = window._paq = window._paq || [];
    _paq.push(['trackPageView']);
    _paq.push(['enableLinkTracking']);
    (function() {
      var u="//stats.mesure.test:${mesure.port}/";
      _paq.push(['setTrackerUrl', u+'matomo.php']);
      _paq.push(['setSiteId', '7']);
      var d=document, g=d.createElement('script'), s=d.getElementsByTagName('script')[0];
      g.async=true; g.src=u+'matomo.js'; s.parentNode.insertBefore(g,s);
    })();
    </script><script defer src="/matomo-app.js"></script>`;
  pages[SITES.matomo.host] = {
    "/": { body: html(matomoSnippet, links(port)) },
    "/matomo-app.js": script(`
      document.getElementById('play').addEventListener('click', function () { _paq.push(['trackEvent', 'Video', 'Play', 'Intro', 3]) })
      _paq.push(['setUserId', 'jean.dupont'], ['disableCookies'], ['setCustomDimension', 1, 'x'], ['unknownCommand'])`),
    "/docs/rapport.pdf": pdf,
    // The npm client @datapunt/matomo-tracker-js, which loads matomo.js itself.
    "/npm-client": {
      body: html(`<script type="module">
        import MatomoTracker from '/npm/@datapunt/matomo-tracker-js/es/index.js';
        const tracker = new MatomoTracker({ urlBase: '${stats}/', siteId: 7, userId: 'jean.dupont' });
        tracker.trackPageView();
        document.getElementById('play').addEventListener('click', () => tracker.trackEvent({ category: 'Video', action: 'Play' }));
        </script>`, links(port)),
    },
  };
  pages[SITES.plausible.host] = {
    // The official npm library, pointed at the collector.
    "/": {
      body: html(`<script type="module">
        import { init, track } from '/npm/@plausible-analytics/tracker/plausible.js';
        init({ domain: '${SITES.plausible.host}', endpoint: '${stats}/api/event', outboundLinks: true, fileDownloads: true });
        document.getElementById('signup').addEventListener('click', () => track('Signup', { props: { plan: 'pro' } }));
        </script>`, links(port)),
    },
    // Plausible's snippet with its queue stub, only the host changed.
    "/snippet": {
      body: html(`<script defer data-domain="${SITES.plausible.host}" src="${stats}/js/script.hash.outbound-links.file-downloads.js"></script>
        <script>window.plausible = window.plausible || function() { (window.plausible.q = window.plausible.q || []).push(arguments) }</script>
        <script>plausible('Signup', { props: { plan: 'snippet' } })</script>`, links(port)),
    },
    "/docs/rapport.pdf": pdf,
  };
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  sites?.close();
  mesure?.stop();
});

/** Loads a page and records the requests it makes to the collector. */
async function visit(context, url) {
  const page = await context.newPage();
  const sent = [];
  const problems = [];
  page.on("request", (r) => r.url().startsWith(stats) && !/\.(js|css)$/.test(new URL(r.url()).pathname) && sent.push(r.url()));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(url);
  // Not "networkidle": Plausible's library keeps reporting engagement.
  await page.waitForLoadState("load");
  await sleep(500);
  return { page, sent, problems };
}

/** Downloads the page's file, then follows its outbound link. */
async function downloadThenLeave(page) {
  const download = page.waitForEvent("download");
  await page.click("#file");
  await download;
  await page.click("#out");
  await page.waitForURL(/ailleurs/);
}

const kinds = (rows) => rows.map((r) => [r.kind, r.name, r.path]);

test("the site script: pageviews, navigation, outbound link, download, custom event, under a strict CSP", async () => {
  const context = await browser.newContext({ locale: "fr-FR" });
  const { page, problems } = await visit(context, web(SITES.script.host, "/?jeton=s3cr3t-de-test"));
  await page.click("#next");
  await page.click("#signup");
  await downloadThenLeave(page);
  const rows = await mesure.rows("script", 5);
  assert.deepEqual(kinds(rows).sort(), [
    ["custom", "Signup", "/suite"],
    ["download", "www.mesure.test/docs/rapport.pdf", "/suite"],
    ["outlink", "ailleurs.mesure.test/dehors", "/suite"],
    ["pageview", "", "/"],
    ["pageview", "", "/suite"],
  ]);
  assert.ok(rows.every((r) => r.tracker === "script" && r.hostname === SITES.script.host && r.browser === "Chrome"), JSON.stringify(rows));
  // Exempt site: the event's properties are not kept.
  assert.deepEqual(rows.find((r) => r.kind === "custom").props, {});
  assert.deepEqual(problems, [], "no CSP violation, no script error");
  // Privacy invariants, over every column of every row.
  const everything = JSON.stringify(await mesure.query("SELECT * FROM mesure.events"));
  for (const secret of ["s3cr3t", "jeton", "Mozilla/5.0", "X11", "127.0.0.1"]) {
    assert.ok(!everything.includes(secret), `${secret} stored`);
  }
  assert.deepEqual(await context.cookies(), [], "no cookie");
  await context.close();
});

test("the <noscript> pixel with JavaScript disabled", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await visit(context, web(SITES.pixel.host, "/sans-js"));
  const rows = await mesure.rows("pixel", 1);
  assert.deepEqual(rows.map((r) => [r.kind, r.path, r.tracker]), [["pageview", "/sans-js", "pixel"]]);
  // With Do Not Track, the collector drops what the pixel sends.
  const dnt = await browser.newContext({ javaScriptEnabled: false, extraHTTPHeaders: { DNT: "1" } });
  const { sent } = await visit(dnt, web(SITES.pixel.host, "/sans-js?dnt"));
  assert.equal(sent.length, 1, "the pixel is still fetched");
  assert.equal((await mesure.rows("pixel", 0)).length, 1);
  await context.close();
  await dnt.close();
});

test("Matomo's snippet and the @datapunt/matomo-tracker-js client, only the host changed", async () => {
  const context = await browser.newContext({ locale: "fr-FR" });
  const snippet = await visit(context, web(SITES.matomo.host));
  await snippet.page.click("#play");
  await downloadThenLeave(snippet.page);
  const client = await visit(context, web(SITES.matomo.host, "/npm-client"));
  await client.page.click("#play");
  const rows = await mesure.rows("matomo", 6);
  assert.deepEqual(kinds(rows).sort(), [
    ["custom", "Video / Play", "/"],
    ["custom", "Video / Play", "/npm-client"],
    ["download", "matomo.mesure.test/docs/rapport.pdf", "/"],
    ["outlink", "ailleurs.mesure.test/dehors", "/"],
    ["pageview", "", "/"],
    ["pageview", "", "/npm-client"],
  ]);
  assert.ok(rows.every((r) => r.tracker === "matomo"), JSON.stringify(rows));
  assert.deepEqual([...snippet.problems, ...client.problems], [], "every _paq command accepted");
  const stored = JSON.stringify(await mesure.query("SELECT * FROM mesure.events WHERE site_id = 'matomo'"));
  assert.ok(!stored.includes("jean"), "the user id is never stored");
  assert.deepEqual(await context.cookies(), []);
  await context.close();
});

test("Matomo's Node client: the HTTP API and bulk tracking", async () => {
  const MatomoTracker = require("matomo-tracker");
  const tracker = new MatomoTracker(7, `http://127.0.0.1:${mesure.port}/matomo.php`);
  const errors = [];
  tracker.on("error", (e) => errors.push(e));
  // A server-side tracker forwards its visitor's user agent and language.
  const visitor = {
    ua: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    lang: "fr-FR",
    cip: "203.0.113.50",
    uid: "marie.curie",
  };
  tracker.track({ url: "http://matomo.mesure.test/serveur", action_name: "Serveur", ...visitor });
  const answer = await new Promise((resolve) =>
    tracker.trackBulk([
      { url: "http://matomo.mesure.test/lot-1", ...visitor },
      { url: "http://matomo.mesure.test/lot-2", e_c: "Video", e_a: "Play", ...visitor },
    ], resolve));
  assert.deepEqual(JSON.parse(answer), { status: "success", tracked: 2, invalid: 0, invalid_indices: [] });
  const rows = await mesure.rows("matomo", 3, "browser = 'Firefox'");
  assert.deepEqual(kinds(rows).sort(), [
    ["custom", "Video / Play", "/lot-2"],
    ["pageview", "", "/lot-1"],
    ["pageview", "", "/serveur"],
  ]);
  const stored = JSON.stringify(await mesure.query("SELECT * FROM mesure.events"));
  for (const secret of ["203.0.113", "marie"]) assert.ok(!stored.includes(secret), `${secret} stored`);
  assert.deepEqual(errors, []);
});

test("Plausible's npm library and snippet, only the host changed", async () => {
  const context = await browser.newContext({ locale: "fr-FR" });
  const lib = await visit(context, web(SITES.plausible.host));
  await lib.page.click("#signup");
  await downloadThenLeave(lib.page);
  const snippet = await visit(context, web(SITES.plausible.host, "/snippet#/route/a"));
  const rows = await mesure.rows("plausible", 6);
  assert.deepEqual(kinds(rows).sort(), [
    ["custom", "Signup", "/"],
    ["custom", "Signup", "/snippet#/route/a"],
    ["download", "plausible.mesure.test/docs/rapport.pdf", "/"],
    ["outlink", "ailleurs.mesure.test/dehors", "/"],
    ["pageview", "", "/"],
    ["pageview", "", "/snippet#/route/a"],
  ]);
  const trackers = Object.fromEntries(rows.map((r) => [r.path, r.tracker]));
  assert.equal(trackers["/"], "plausible");
  assert.equal(trackers["/snippet#/route/a"], "script");
  assert.deepEqual([...lib.problems, ...snippet.problems], []);
  await context.close();
});

test("Do Not Track, Global Privacy Control and the opt-out: nothing is sent", async () => {
  const quiet = async (init, path) => {
    const context = await browser.newContext();
    await context.addInitScript(init);
    const { page, sent } = await visit(context, web(SITES.script.host, path));
    await page.click("#signup");
    await sleep(500);
    await context.close();
    return sent;
  };
  assert.deepEqual(await quiet(() => Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" }), "/dnt"), []);
  assert.deepEqual(await quiet(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }), "/gpc"), []);

  const context = await browser.newContext({ locale: "fr-FR" });
  const policy = await visit(context, web(SITES.script.host, "/confidentialite"));
  const box = policy.page.locator("#mesure-optout input");
  assert.equal(await box.isChecked(), true);
  await box.uncheck();
  assert.match(await policy.page.textContent("#mesure-optout"), /ne sont plus mesurées/);
  assert.equal(await policy.page.evaluate(() => localStorage.getItem("mesure_optout")), "1");
  const refused = await visit(context, web(SITES.script.host, "/apres-refus"));
  await refused.page.click("#signup");
  await sleep(500);
  assert.deepEqual(refused.sent, [], "nothing sent once refused");
  await box.check();
  assert.equal(await policy.page.evaluate(() => localStorage.length), 0, "nothing stored once accepted again");
  await visit(context, web(SITES.script.host, "/apres-accord"));
  await mesure.rows("script", 1, "path = '/apres-accord'");
  const rows = await mesure.rows("script", 0, "path IN ('/dnt', '/gpc', '/apres-refus', '/apres-accord')");
  assert.deepEqual(rows.map((r) => r.path), ["/apres-accord"]);
  assert.deepEqual(await context.cookies(), []);
  await context.close();
});

test("the opt-out page in French and English (screenshots in target/browser)", async () => {
  const dir = join(root, "target", "browser");
  mkdirSync(dir, { recursive: true });
  for (const [lang, words] of [["fr", "Mes visites sont mesurées"], ["en", "My visits are measured"]]) {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
    const { page, problems } = await visit(context, `${stats}/optout?lang=${lang}`);
    assert.match(await page.textContent("#mesure-optout"), new RegExp(words));
    assert.equal(await page.getAttribute("html", "lang"), lang);
    await page.screenshot({ path: join(dir, `optout-${lang}.png`), fullPage: true });
    assert.deepEqual(problems, []);
    await context.close();
  }
});

test("the site script is under 1 KB gzipped", async () => {
  const size = await new Promise((resolve, reject) =>
    get(`${mesure.base}/m.js`, { headers: { "Accept-Encoding": "gzip" } }, (res) => {
      let n = 0;
      res.on("data", (c) => (n += c.length));
      res.on("end", () => resolve(n));
    }).on("error", reject));
  console.log(`site script served: ${size} bytes gzipped`);
  assert.ok(size <= 1024, `${size} bytes`);
});
