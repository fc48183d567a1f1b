// Transpile the exact component `make guest` built into ES modules (jco),
// with the WASI shims it needs beside it, and copy the result into the
// extension. No second build of the core: the .wasm is read, not rebuilt.
import { transpile, writeFiles } from '@bytecodealliance/jco-transpile';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const wasm = process.env.HCAL_COMPONENT
  ?? join(here, '..', 'target', 'wasm32-wasip2', 'guest', 'hcal_core.wasm');
if (!existsSync(wasm)) {
  console.error(`hcal browser: no component at ${wasm}; run \`make guest\` first`);
  process.exit(1);
}
const out = join(here, 'dist', 'core');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// The browser flavour of preview2-shim runs in Node 20 too (it needs only
// `crypto.getRandomValues` and `console`), so one output serves both.
const { files } = await transpile(wasm, {
  name: 'hcal-core',
  outDir: out,
  // No top-level await: extension service workers and old bundlers refuse it.
  tlaCompat: true,
  map: {
    'wasi:cli/*': './shim/cli.js#*',
    'wasi:io/*': './shim/io.js#*',
    'wasi:random/*': './shim/random.js#*',
  },
});
await writeFiles(files);
const shims = join(here, 'node_modules', '@bytecodealliance', 'preview2-shim', 'dist', 'browser');
mkdirSync(join(out, 'shim'), { recursive: true });
// The shims travel with their licence (Apache-2.0 WITH LLVM-exception).
cpSync(join(shims, '..', '..', 'LICENSE'), join(out, 'shim', 'LICENSE'));
// The three the component imports, and what they import in turn.
const copied = new Set();
const pending = ['cli.js', 'io.js', 'random.js'];
while (pending.length > 0) {
  const file = pending.pop();
  if (copied.has(file)) continue;
  copied.add(file);
  const source = readFileSync(join(shims, file), 'utf8');
  cpSync(join(shims, file), join(out, 'shim', file));
  for (const [, next] of source.matchAll(/from\s+["']\.\/([\w.-]+\.js)["']/g)) pending.push(next);
}

// The extension carries its own copy (it cannot load files from outside).
const extension = join(here, 'extension', 'core');
rmSync(extension, { recursive: true, force: true });
cpSync(join(here, 'dist'), join(extension, 'dist'), { recursive: true });
cpSync(join(here, 'index.js'), join(extension, 'index.js'));
cpSync(join(here, '..', 'fixtures', 'demo', 'events.json'), join(extension, 'sample-events.json'));

const sizes = {
  component_bytes: statSync(wasm).size,
  core_wasm_bytes: statSync(join(out, 'hcal-core.core.wasm')).size,
  bindings_js_bytes: statSync(join(out, 'hcal-core.js')).size,
  core_wasm_gzip_bytes: gzipSync(readFileSync(join(out, 'hcal-core.core.wasm')), { level: 9 }).length,
  bindings_js_gzip_bytes: gzipSync(readFileSync(join(out, 'hcal-core.js')), { level: 9 }).length,
  shim_js_bytes: [...copied].map((f) => statSync(join(out, 'shim', f)).size).reduce((a, b) => a + b, 0),
};
writeFileSync(join(here, 'dist', 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
console.log(`hcal browser: ${relative(process.cwd(), wasm)} (${sizes.component_bytes} bytes) -> dist/core: `
  + `${sizes.core_wasm_bytes} bytes of core wasm, ${sizes.bindings_js_bytes} bytes of bindings, `
  + `${sizes.shim_js_bytes} bytes of WASI shims`);
