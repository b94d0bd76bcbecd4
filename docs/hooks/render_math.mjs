// Typeset TeX formulas with KaTeX (npm katex, the copy the site serves). Called by
// docs/hooks/katex.py once per site build, for every formula the build has not cached yet.
//
//   node render_math.mjs KATEX_DIR < JOBS_JSON > RESULTS_JSON
//
// JOBS_JSON:    [{"tex": "\\beta", "display": false}, ...]
// RESULTS_JSON: [{"html": "<span class=\"katex\">...</span>"} | {"error": "KaTeX message"}, ...]
//               in the order of the jobs. The HTML carries MathML for screen readers.
// KaTeX's own warnings (its "strict" checks) go to stderr.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [katexDir] = process.argv.slice(2);
const katex = (await import(pathToFileURL(path.join(katexDir, "dist", "katex.mjs")).href)).default;
const jobs = JSON.parse(fs.readFileSync(0, "utf8"));
const results = jobs.map(({ tex, display }) => {
  try {
    return { html: katex.renderToString(tex, { displayMode: display, throwOnError: true }) };
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
});
process.stdout.write(JSON.stringify(results));
