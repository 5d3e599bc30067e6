// Minifies the browser scripts the collector serves (collector/assets/*.js,
// sources kept readable) with terser, pinned in package.json, and prints the
// site script's gzipped size, which must stay under 1 KB.
// `node scripts/assets.mjs --check` fails if a committed file differs.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const { minify } = require("terser");
const dir = join(root, "collector", "assets");
const check = process.argv.includes("--check");
const stale = [];
for (const name of ["m", "matomo", "optout"]) {
  const source = readFileSync(join(dir, `${name}.js`), "utf8");
  // ES5 output for the oldest browsers still around; no eval, no new Function.
  const { code } = await minify(source, { compress: { passes: 2 }, mangle: true, ecma: 5 });
  const text = code + "\n";
  const path = join(dir, `${name}.min.js`);
  if (check) {
    let current = "";
    try { current = readFileSync(path, "utf8"); } catch {}
    if (current !== text) stale.push(`${name}.min.js`);
  } else {
    writeFileSync(path, text);
  }
  if (name === "m") {
    const gzipped = gzipSync(text, { level: 9 }).length;
    console.log(`site script: ${text.length} bytes, ${gzipped} bytes gzipped (limit 1024)`);
    if (gzipped > 1024) {
      console.error("the site script is over 1 KB gzipped");
      process.exit(1);
    }
  }
}
if (stale.length) {
  console.error(`collector/assets is stale (${stale.join(", ")}): run node scripts/assets.mjs`);
  process.exit(1);
}
console.log(check ? "collector/assets matches its sources" : "collector/assets written");
