// Time the tiny transformer in Pyodide (the reader's browser runtime) under Node.
//
//   node bench/lm_pyodide.mjs [--repeat N] [-- SCRIPT ARGS...]
//
// Loads npm pyodide@0.27.7 from node_modules, the numpy 2.0.2 Pyodide wheel and the pure
// array-api-compat wheel that the runtime build step caches under build/runtime-cache/ (run
// `make runtime` once, or `python bench/lm_pyodide.py`, which runs it), mounts this
// checkout read-only-in-spirit at /repo and runs bench/lm_speed.py there with --json.
// Prints the script's JSON rows (one per size and dtype) on stdout.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pyodideDir = path.join(root, "node_modules", "pyodide");
const cache = path.join(root, "build", "runtime-cache");

function findWheel(dir, prefix) {
  const hits = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith(".whl"))
    : [];
  if (!hits.length) {
    throw new Error(`no ${prefix}*.whl in ${dir}: run \`make runtime\` once`);
  }
  return path.join(dir, hits.sort()[0]);
}

const args = process.argv.slice(2);
const sep = args.indexOf("--");
const script = sep >= 0 ? args[sep + 1] : "bench/lm_speed.py";
const scriptArgs = sep >= 0 ? args.slice(sep + 2) : args;

const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const py = await loadPyodide({ indexURL: pyodideDir + path.sep });
await py.loadPackage(
  [
    findWheel(path.join(cache, "pyodide-packages"), "numpy-"),
    findWheel(path.join(cache, "pip"), "array_api_compat-"),
  ],
  { messageCallback: () => {} },
);
py.FS.mkdirTree("/repo");
py.FS.mount(py.FS.filesystems.NODEFS, { root }, "/repo");
py.globals.set("bench_argv", py.toPy([script, ...scriptArgs, "--json"]));
py.runPython(`
import os, runpy, sys
os.chdir("/repo")
sys.path.insert(0, "/repo"); sys.path.insert(0, "/repo/bench")
sys.argv = list(bench_argv)
runpy.run_path(sys.argv[0], run_name="__main__")
`);
