// Compile the Python sources of zip archives (Pyodide's stdlib, wheels) to CPython 3.12
// bytecode, with Pyodide's own interpreter running under Node. Called by
// tools/runtime/bytecode.py.
//
//   node compile_bytecode.mjs PYODIDE_DIR JOBS_JSON
//
// JOBS_JSON: [{"src": path, "dst": path, "mode": "sourceless" | "cached"}, ...]
//   sourceless: every foo.py becomes foo.pyc in its place (what zipimport and the stdlib want);
//   cached:     foo.py stays, __pycache__/foo.cpython-312.pyc is added next to it (so sources
//               remain readable, e.g. inspect.getsource in the browser).
// The .pyc files are unchecked hash-based (PEP 552): the importer uses them without comparing
// source timestamps, which a wheel unpacked in the browser would not preserve anyway.
// Output zips are deterministic: entry order and timestamps are those of the input.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, jobsFile] = process.argv.slice(2);
const jobs = JSON.parse(fs.readFileSync(jobsFile, "utf8"));
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const py = await loadPyodide({ indexURL: pyodideDir + path.sep });

py.runPython(`
import importlib.util
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc


def recompile(src, dst, mode):
    n = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if not info.filename.endswith(".py"):
                zout.writestr(info, data)
                continue
            try:
                code = compile(data, info.filename, "exec", dont_inherit=True)
            except SyntaxError:  # e.g. lib2to3 test data: ship it as it is
                zout.writestr(info, data)
                continue
            pyc = bytes(_code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False))
            if mode == "sourceless":
                name = info.filename + "c"
            else:
                zout.writestr(info, data)
                name = importlib.util.cache_from_source(info.filename)
            out = zipfile.ZipInfo(name, date_time=info.date_time)
            out.external_attr = info.external_attr
            out.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(out, pyc)
            n += 1
    return n
`);
const recompile = py.globals.get("recompile");
for (const job of jobs) {
  if (job.mode !== "sourceless" && job.mode !== "cached") {
    throw new Error(`compile_bytecode: unknown mode ${job.mode}`);
  }
  py.FS.writeFile("/tmp/in.zip", fs.readFileSync(job.src));
  const n = recompile("/tmp/in.zip", "/tmp/out.zip", job.mode);
  fs.writeFileSync(job.dst, py.FS.readFile("/tmp/out.zip"));
  console.log(`compiled ${n} modules: ${path.basename(job.dst)}`);
}
