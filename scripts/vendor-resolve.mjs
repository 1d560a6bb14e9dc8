// Resolves the web client's browser libraries as a browser would, for scripts/vendor.sh.
//
//   node scripts/vendor-resolve.mjs <node_modules> <files.txt> <out>
//
// files.txt names the bare specifiers the client imports (`import yjs`). Each is resolved through
// its package's "exports" with the browser's conditions (so lib0/webcrypto and lib0/logging get
// their browser files, not node's), and so is every module those files import, transitively:
// relative imports must name a file of the same package, bare ones are resolved in turn. The
// files reached, and each contributing package's licence, are copied unmodified to <out>/<path>,
// the import map mapping every bare specifier seen to /static/vendor/<path> is written to
// <out>/importmap.json, and the copied paths are printed, one per line.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, posix } from 'node:path';

const [nodeModules, list, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: vendor-resolve.mjs <node_modules> <files.txt> <out>');
  process.exit(2);
}

// The conditions a browser loading ES modules matches, as bundlers targeting browsers use them.
const CONDITIONS = new Set(['browser', 'module', 'import', 'default']);
const URL_PREFIX = '/static/vendor/';

const fail = (msg) => {
  console.error(`vendor: ${msg}`);
  process.exit(1);
};

/** Node's conditional-exports choice: the first key, in the object's order, that matches. */
function pick(target) {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const t of target) {
      const r = pick(t);
      if (r) return r;
    }
    return null;
  }
  if (target && typeof target === 'object') {
    for (const [key, value] of Object.entries(target)) {
      if (CONDITIONS.has(key)) {
        const r = pick(value);
        if (r) return r;
      }
    }
  }
  return null;
}

const packageName = (spec) =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];

/** A bare specifier's file, as a path under node_modules. */
function resolveBare(spec) {
  const name = packageName(spec);
  const manifest = join(nodeModules, name, 'package.json');
  if (!existsSync(manifest)) fail(`${spec}: package ${name} is not in the lockfile`);
  const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
  const sub = `.${spec.slice(name.length)}`;
  let rel = null;
  if (pkg.exports) {
    let exp = pkg.exports;
    const subpaths = typeof exp === 'object' && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.'));
    if (!subpaths) exp = { '.': exp };
    if (sub in exp) {
      rel = pick(exp[sub]);
    } else {
      for (const [key, value] of Object.entries(exp)) {
        const star = key.indexOf('*');
        if (star < 0) continue;
        const [pre, post] = [key.slice(0, star), key.slice(star + 1)];
        if (sub.startsWith(pre) && sub.endsWith(post) && sub.length >= pre.length + post.length) {
          const t = pick(value);
          rel = t && t.replaceAll('*', sub.slice(pre.length, sub.length - post.length));
          break;
        }
      }
    }
    if (!rel) fail(`${spec}: ${name} exports nothing for ${sub} under the browser's conditions`);
  } else if (sub === '.') {
    rel = (typeof pkg.browser === 'string' && pkg.browser) || pkg.module || pkg.main || 'index.js';
  } else {
    rel = sub;
  }
  const path = posix.normalize(posix.join(name, rel));
  if (!existsSync(join(nodeModules, path))) fail(`${spec}: resolves to ${path}, which is missing`);
  return path;
}

// Static import and export declarations, and side-effect imports, at the start of a line (the
// files are ES modules as published, not minified). Comments are not declarations: JSDoc's
// `import('./x.js').T` types never match, since a declaration needs `from` or a quote after
// `import`.
const DECLARATION = /^[ \t]*(?:import|export)[\s{*][\w\s{},*$]*?\bfrom\s*(['"])([^'"\n]+)\1/gm;
const SIDE_EFFECT = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;

function imports(source) {
  const found = [];
  for (const re of [DECLARATION, SIDE_EFFECT]) {
    for (const m of source.matchAll(re)) found.push(m[2]);
  }
  return found;
}

const roots = readFileSync(list, 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const m = /^import\s+(\S+)$/.exec(l);
    if (!m) fail(`${list}: "${l}" is not "import <specifier>"`);
    return m[1];
  });

const map = new Map();
const files = new Set();
const queue = [];
const visit = (path) => {
  if (!files.has(path)) {
    files.add(path);
    queue.push(path);
  }
};
const bare = (spec) => {
  if (!map.has(spec)) map.set(spec, resolveBare(spec));
  visit(map.get(spec));
};
roots.forEach(bare);
while (queue.length) {
  const file = queue.shift();
  if (!/\.m?js$/.test(file)) fail(`${file}: only JavaScript modules can be imported`);
  for (const spec of imports(readFileSync(join(nodeModules, file), 'utf8'))) {
    if (spec.startsWith('./') || spec.startsWith('../')) {
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      if (packageName(target) !== packageName(file)) fail(`${file}: ${spec} leaves its package`);
      if (!existsSync(join(nodeModules, target))) fail(`${file}: imports ${spec}, which is missing`);
      visit(target);
    } else if (spec.startsWith('/') || /^[a-z]+:/.test(spec)) {
      fail(`${file}: imports ${spec}, which no import map can serve from here`);
    } else {
      bare(spec);
    }
  }
}

// Each package that contributes a file contributes its licence.
for (const name of new Set([...files].map(packageName))) {
  const licence = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license'].find((f) =>
    existsSync(join(nodeModules, name, f)),
  );
  if (!licence) fail(`${name} has no licence file`);
  files.add(`${name}/${licence}`);
}

const sorted = [...files].sort();
for (const f of sorted) {
  mkdirSync(dirname(join(out, f)), { recursive: true });
  copyFileSync(join(nodeModules, f), join(out, normalize(f)));
}
const importMap = {
  imports: Object.fromEntries([...map.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([s, p]) => [s, URL_PREFIX + p])),
};
writeFileSync(join(out, 'importmap.json'), `${JSON.stringify(importMap, null, 2)}\n`);
console.log(sorted.join('\n'));
