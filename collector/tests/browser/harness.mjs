// The real parts the browser tests drive: a local ClickHouse, the `mesure`
// binary (migrate, sites, collector), a web server for the test sites, and
// Debian's Chromium through playwright-core. Everything binds to 127.0.0.1
// on free ports and stops with the test process.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const require = createRequire(join(root, "package.json"));
const { chromium } = require("playwright-core");

const children = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts the local ClickHouse; resolves with its URL. */
async function startClickHouse() {
  const child = spawn(join(root, ".venv/bin/python"), [
    join(root, "deploy/local/chlocal.py"), "--port", "0", "--temporary", "--exit-with-parent",
  ], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`the local ClickHouse did not start: ${seen}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      seen += chunk;
      const url = /http:\/\/[0-9.:]+/.exec(seen);
      if (url) {
        clearTimeout(timer);
        resolve(url[0]);
      }
    });
    child.on("exit", (code) => reject(new Error(`the local ClickHouse exited (${code}): ${seen}`)));
  });
}

/** The sites of the browser tests, one per way of installing tracking. */
export const SITES = {
  script: { host: "www.mesure.test", args: ["--event", "Signup"] },
  pixel: { host: "pixel.mesure.test", args: [] },
  matomo: { host: "matomo.mesure.test", args: ["--matomo-id", "7", "--event", "Video / Play"] },
  plausible: { host: "plausible.mesure.test", args: ["--event", "Signup"] },
};

/** ClickHouse, the schema, the sites and a collector. */
export async function startMesure() {
  const clickhouse = await startClickHouse();
  const bin = process.env.MESURE_BIN || join(root, "target/debug/mesure");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build it with cargo build -p mesure`);
  const port = await freePort();
  const spool = mkdtempSync(join(tmpdir(), "mesure-browser-spool-"));
  const env = {
    ...process.env,
    MESURE_CLICKHOUSE_URL: clickhouse,
    MESURE_COLLECTOR_LISTEN: `127.0.0.1:${port}`,
    MESURE_COLLECTOR_BATCH_DELAY_MS: "200",
    MESURE_GEOIP_DATABASES: join(root, ".data/geoip/GeoLite2-City.mmdb"),
    MESURE_SPOOL_DIR: spool,
    MESURE_ACCOUNTS_URL: `sqlite://${join(spool, "accounts.sqlite")}`,
    MESURE_LOG: "warn",
  };
  const run = (...args) => execFileSync(bin, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  run("migrate");
  for (const [id, site] of Object.entries(SITES)) run("site", "put", id, "--host", site.host, ...site.args);
  const collector = spawn(bin, ["collector"], { env, stdio: ["ignore", "inherit", "inherit"] });
  children.push(collector);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error("the collector did not become ready");
    await sleep(100);
  }
  const metric = async (name) => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return Number(line?.split(" ")[1] ?? 0);
  };
  // Every accepted hit is in ClickHouse.
  const shipped = async () => {
    for (let i = 0; i < 100; i++) {
      if (await metric("mesure_rows_inserted_total") >= await metric("mesure_hits_accepted_total")) return;
      await sleep(200);
    }
    throw new Error("the collector did not ship what it accepted");
  };
  const query = async (sql) => {
    const answer = await fetch(clickhouse, { method: "POST", body: `${sql} FORMAT JSONEachRow` });
    const text = await answer.text();
    if (!answer.ok) throw new Error(`${sql}: ${text}`);
    return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
  };
  return {
    port,
    base,
    query,
    /** Runs another `mesure` command against the same ClickHouse. */
    run,
    /** Starts another `mesure` service with these settings added; stopped
     * with the rest. */
    spawn(args, extra = {}) {
      const child = spawn(bin, args, { env: { ...env, ...extra }, stdio: ["ignore", "inherit", "inherit"] });
      children.push(child);
      return child;
    },
    freePort,
    /** The rows of a site once `count` are there (or what there is after
     * 20 s). With `count` 0: what is there once the spool has been shipped. */
    async rows(site, count, where = "1") {
      const select = () => query(
        `SELECT kind, name, path, tracker, hostname, browser, props FROM mesure.events WHERE site_id = '${site}' AND ${where} ORDER BY ts, path`);
      if (count === 0) {
        await shipped();
        return select();
      }
      let rows = [];
      for (let i = 0; i < 100; i++) {
        rows = await select();
        if (rows.length >= count) break;
        await sleep(200);
      }
      return rows;
    },
    stop() {
      for (const child of children) child.kill("SIGTERM");
      rmSync(spool, { recursive: true, force: true });
    },
  };
}

/** Serves `pages` ({host: {path: page}}) and npm packages under /npm/. */
export async function startSites(pages) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const host = (req.headers.host || "").split(":")[0];
    if (url.pathname.startsWith("/npm/")) {
      const base = normalize(join(root, "node_modules", url.pathname.slice(5)));
      if (!base.startsWith(join(root, "node_modules"))) return res.writeHead(403).end();
      // Packages import their siblings without the extension.
      const file = [base, `${base}.js`].find((f) => existsSync(f) && !f.endsWith("/"));
      if (!file) return res.writeHead(404).end();
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" });
      return res.end(readFileSync(file));
    }
    if (url.pathname === "/favicon.ico") return res.writeHead(204).end();
    const page = pages[host]?.[url.pathname];
    if (!page) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      return res.end("not found");
    }
    res.writeHead(200, { "Content-Type": page.type || "text/html; charset=utf-8", ...(page.headers || {}) });
    res.end(page.body);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { port: server.address().port, close: () => server.close() };
}

/** Debian's Chromium, with every *.mesure.test name on loopback. Its
 * contexts present the user agent of the same Chromium with a window: the
 * headless one names itself HeadlessChrome, which is rightly a robot. */
export async function launchChromium() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--host-resolver-rules=MAP *.mesure.test 127.0.0.1",
      // As a visitor's browser: navigator.webdriver is false.
      "--disable-blink-features=AutomationControlled",
      "--no-sandbox",
    ],
  });
  const major = browser.version().split(".")[0];
  const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`;
  const newContext = browser.newContext.bind(browser);
  browser.newContext = (options = {}) => newContext({ userAgent, ...options });
  return browser;
}
