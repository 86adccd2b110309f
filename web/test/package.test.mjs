// The package as a consumer sees it: every `exports` entry resolves by the package's name, every
// runtime export has a TypeScript declaration, the plain client and the dashboard never reach
// 'react' (they load unbundled from alerthub's /web/…), every file the server must serve is in
// src/http/dashboard.rs, and no source module is over 400 lines or lacks its opening comment.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(webDir, 'package.json'), 'utf8'));
const SOURCE_DIRS = ['.', 'client', 'dashboard', 'react'];
const sources = SOURCE_DIRS.flatMap((d) =>
  fs
    .readdirSync(path.join(webDir, d))
    .filter((f) => /\.(js|css|html)$/.test(f))
    .map((f) => path.join(d, f)),
);

test('every export entry resolves by package name and each runtime export is declared in its .d.ts', async () => {
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (sub === './package.json') continue;
    const spec = sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`;
    const mod = await import(spec);
    const dts = fs.readFileSync(path.join(webDir, target.types), 'utf8');
    for (const name of Object.keys(mod)) {
      if (name === 'default') {
        assert.match(dts, /export default /, `${spec}: default export has no declaration`);
        continue;
      }
      const declared = new RegExp(`export (declare )?(const|function|class|interface|type) ${name}\\b|export \\{[^}]*\\b${name}\\b[^}]*\\}`).test(dts);
      assert.ok(declared, `${spec}: ${name} is exported but not declared in ${target.types}`);
    }
  }
});

function staticImports(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    const spec = m[1];
    if (spec.startsWith('.')) staticImports(path.resolve(path.dirname(file), spec), seen);
    else seen.add(spec);
  }
  return seen;
}

test('the plain client and the dashboard load without React (and without any bare import)', () => {
  for (const entry of ['alerthub-client.js', 'dashboard.js', 'useBreachWebSocket.js']) {
    const graph = [...staticImports(path.join(webDir, entry))];
    const bare = graph.filter((s) => !s.startsWith('/'));
    assert.deepEqual(bare, [], `${entry} imports ${bare.join(', ')}`);
  }
  const react = [...staticImports(path.join(webDir, 'react/index.js'))];
  assert.ok(react.includes('react'), 'the React entry imports react normally');
});

test('the server serves every module the dashboard and the plain client load', () => {
  const rs = fs.readFileSync(path.join(webDir, '..', 'src/http/dashboard.rs'), 'utf8');
  const needed = new Set(['index.html', 'dashboard.css']);
  for (const entry of ['dashboard.js', 'useBreachWebSocket.js']) {
    for (const f of staticImports(path.join(webDir, entry))) needed.add(path.relative(webDir, f));
  }
  for (const f of needed) {
    assert.ok(rs.includes(`include_str!("../../web/${f}")`), `src/http/dashboard.rs does not serve web/${f}`);
  }
});

test('no source module over 400 lines; each opens with a comment saying what it owns', () => {
  for (const f of sources) {
    const text = fs.readFileSync(path.join(webDir, f), 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    assert.ok(lines <= 400, `${f} has ${lines} lines`);
    if (f.endsWith('.js')) assert.match(text, /^\/\/ \S/, `${f} does not open with a comment`);
    if (f.endsWith('.css')) assert.match(text, /^\/\* \S/, `${f} does not open with a comment`);
  }
});
