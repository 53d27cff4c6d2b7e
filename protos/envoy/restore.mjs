#!/usr/bin/env node
// Restores the upstream Envoy API protos named by manifest.json into an output folder:
// npm pack (pinned version) -> sha512 check against the manifest -> extract -> copy the
// import closure of the entry protos. Exits non-zero with a message that says what to fix.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => a.startsWith('--') ? [a.slice(2), all[i + 1]] : null).filter(Boolean));
const out = path.resolve(args.out ?? path.join(here, 'obj', 'upstream'));
const manifestPath = path.resolve(args.manifest ?? path.join(here, 'manifest.json'));
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));

function fail(message) {
  console.error(`error ZMPROTO: ${message}`);
  process.exit(1);
}

const work = path.join(out, '.packages');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const roots = [];      // folders searched, in order, for an import
const overrides = {};  // import path -> file that replaces it
for (const pkg of manifest.packages) {
  const spec = `${pkg.name}@${pkg.version}`;
  let packed;
  try {
    packed = JSON.parse(execFileSync(npm, ['pack', spec, '--json', '--pack-destination', work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (e) {
    fail(`'npm pack ${spec}' failed: ${(e.stderr || e.message).toString().trim()}. Check that the npm registry is reachable.`);
  }
  const tgz = path.join(work, packed[0].filename);
  const actual = 'sha512-' + createHash('sha512').update(fs.readFileSync(tgz)).digest('base64');
  if (actual !== pkg.integrity) {
    fail(`${spec}: integrity mismatch. manifest.json pins ${pkg.integrity} but the registry served ${actual}. Do not edit the pin unless you meant to change the version.`);
  }
  const dir = path.join(work, pkg.name.replace(/[@/]/g, '_'));
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['xzf', tgz, '-C', dir]);
  const base = path.join(dir, 'package');
  for (const r of pkg.includeRoots ?? []) roots.push(path.join(base, r));
  for (const [importPath, file] of Object.entries(pkg.overrides ?? {})) overrides[importPath] = path.join(base, file);
}

function locate(importPath) {
  if (overrides[importPath]) return overrides[importPath];
  for (const r of roots) {
    const candidate = path.join(r, importPath);
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

const importRe = /^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm;
const closure = new Set();
const queue = [...manifest.entries];
while (queue.length > 0) {
  const p = queue.shift();
  if (closure.has(p) || p.startsWith(manifest.wellKnownPrefix)) continue;
  const file = locate(p);
  if (!file) fail(`'${p}' is imported (or listed in entries) but not found in any include root of manifest.json.`);
  closure.add(p);
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) queue.push(m[1]);
  const dest = path.join(out, p);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(file, dest);
}

fs.rmSync(work, { recursive: true, force: true });
const list = [...closure].sort();
fs.writeFileSync(path.join(out, 'closure.txt'), list.join('\n') + '\n');
console.log(`restored ${list.length} protos (closure of ${manifest.entries.length} entries) into ${out}`);
