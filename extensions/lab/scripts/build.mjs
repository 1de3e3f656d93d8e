// Builds the prebuilt labextension into ../labextension (what the Python package ships)
// and records a fingerprint of the sources it was built from, so that a test notices a
// build that lags behind its sources.
//
//   npm ci && npm run build     rebuild (needs the project's Python with jupyterlab)
//   npm run check               exit 1 when ../labextension is older than the sources
//
// The shared-module versions come from the installed JupyterLab's core package
// (jupyterlab/staging/package.json), exactly as `jupyter labextension build` does.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const output = resolve(here, '..', 'labextension');
const fingerprintFile = join(output, 'SOURCE_SHA256');
// Everything the build reads that is ours; node_modules is pinned by package-lock.json.
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts', 'schema', 'src', 'style'];

function files(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap(name => files(join(path, name)));
}

export function fingerprint() {
  const hash = createHash('sha256');
  const all = SOURCES.flatMap(name => files(join(here, name)))
    .map(path => relative(here, path).split('\\').join('/'))
    .sort();
  for (const name of all) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(here, name)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function corePath() {
  if (process.env.JUPYTERLAB_CORE_PATH) return process.env.JUPYTERLAB_CORE_PATH;
  const venvPython = resolve(here, '..', '..', '.venv', 'bin', 'python');
  const python = process.env.PYTHON || (existsSync(venvPython) ? venvPython : 'python3');
  const code = 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))';
  return execFileSync(python, ['-c', code], { encoding: 'utf8' }).trim();
}

if (process.argv.includes('--check')) {
  const built = existsSync(fingerprintFile) ? readFileSync(fingerprintFile, 'utf8').trim() : '';
  if (built !== fingerprint()) {
    console.error('extensions/labextension is older than its sources: run `npm ci && npm run build`.');
    process.exit(1);
  }
  console.log('extensions/labextension matches its sources.');
} else {
  const builder = join(here, 'node_modules', '.bin', 'build-labextension');
  execFileSync(builder, ['--core-path', corePath(), '.'], { cwd: here, stdio: 'inherit' });
  writeFileSync(fingerprintFile, `${fingerprint()}\n`);
  console.log(`Built ${relative(process.cwd(), output)}`);
}
