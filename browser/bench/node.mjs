// The core benchmark's page (250 realistic events, written by
// `cargo run -p hcal-benches --example bench_page -- target/browser-bench`)
// through the transpiled component in Node, beside wasmtime's figure from
// criterion (`make bench`), when there is one. Medians of timed runs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { workspace } from '../test/fixtures.mjs';

const dir = join(workspace, 'target', 'browser-bench');
const pagePath = join(dir, 'bench-page.json');
if (!existsSync(pagePath)) {
  console.error(`no ${pagePath}: run \`cargo run -p hcal-benches --example bench_page -- target/browser-bench\` (make browser-bench does)`);
  process.exit(1);
}
const page = readFileSync(pagePath, 'utf8');
const request = JSON.parse(readFileSync(join(dir, 'bench-request.json'), 'utf8'));
const events = JSON.parse(page).items.length;

// From importing the package to a usable core: fetch, compile, instantiate.
const loadStarted = performance.now();
const { load } = await import('../index.js');
const core = await load();
const loadMs = performance.now() - loadStarted;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const timed = (options, warm, runs) => {
  for (let i = 0; i < warm; i++) core.processPages(page, request, options); // warm up the JIT tiers
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    core.processPages(page, request, options);
    times.push(performance.now() - started);
  }
  return median(times);
};
const nodeMs = timed({}, 30, 200);
// As the service stores it: title, location, agenda and e-mails sealed
// (the key of benches/core.rs: 32 bytes of 7).
const sealWith = { key_url: 'kms://bench/keys/1', key: Buffer.alloc(32, 7).toString('base64') };
const sealedMs = timed({ sealWith }, 10, 60);

const criterionMs = (group) => {
  const path = join(workspace, 'target', 'criterion', group, 'component', 'new', 'estimates.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')).median.point_estimate / 1e6 : null;
};
const wasmtimeMs = criterionMs('process_page');
const wasmtimeSealedMs = criterionMs('process_page_sealed');
const sizes = JSON.parse(readFileSync(join(workspace, 'browser', 'dist', 'sizes.json'), 'utf8'));
const result = {
  events,
  node: process.version,
  load_ms: loadMs,
  node_median_ms: nodeMs,
  node_events_per_second: events / (nodeMs / 1000),
  wasmtime_median_ms: wasmtimeMs,
  node_over_wasmtime: wasmtimeMs ? nodeMs / wasmtimeMs : null,
  node_sealed_median_ms: sealedMs,
  node_sealed_events_per_second: events / (sealedMs / 1000),
  node_sealed_over_unsealed: sealedMs / nodeMs,
  wasmtime_sealed_median_ms: wasmtimeSealedMs,
  node_sealed_over_wasmtime: wasmtimeSealedMs ? sealedMs / wasmtimeSealedMs : null,
  ...sizes,
};
writeFileSync(join(dir, 'node.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`benchmark page (${events} events) in Node ${process.version}: median ${nodeMs.toFixed(2)} ms `
  + `(${Math.round(result.node_events_per_second).toLocaleString('en')} events/s); imported and ready in ${loadMs.toFixed(0)} ms`);
console.log(wasmtimeMs
  ? `wasmtime (criterion, process_page/component): ${wasmtimeMs.toFixed(2)} ms; Node / wasmtime ${result.node_over_wasmtime.toFixed(2)}`
  : 'no wasmtime figure yet: `make bench` measures it');
console.log(`the same page sealed: median ${sealedMs.toFixed(2)} ms `
  + `(${Math.round(result.node_sealed_events_per_second).toLocaleString('en')} events/s; ${result.node_sealed_over_unsealed.toFixed(2)}x unsealed)`
  + (wasmtimeSealedMs ? `; wasmtime (process_page_sealed/component) ${wasmtimeSealedMs.toFixed(2)} ms, Node / wasmtime ${result.node_sealed_over_wasmtime.toFixed(2)}` : ''));
console.log(`sizes: component ${sizes.component_bytes} B; transpiled: core wasm ${sizes.core_wasm_bytes} B (${sizes.core_wasm_gzip_bytes} B gzip), `
  + `bindings ${sizes.bindings_js_bytes} B (${sizes.bindings_js_gzip_bytes} B gzip), WASI shims ${sizes.shim_js_bytes} B`);
