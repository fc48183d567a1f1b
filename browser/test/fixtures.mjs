// The golden fixtures (../fixtures/core), read with Node's fs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const workspace = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every case: `{name, pages, request, key, expected}`. */
export function loadCases() {
  const root = join(workspace, 'fixtures', 'core');
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const dir = join(root, name);
      const read = (file) => readFileSync(join(dir, file), 'utf8');
      const inputs = readdirSync(dir).filter((f) => f.startsWith('input')).sort();
      return {
        name,
        pages: inputs.map(read),
        request: JSON.parse(read('request.json')),
        key: existsSync(join(dir, 'key.json')) ? JSON.parse(read('key.json')) : null,
        expected: JSON.parse(read('expected.json')),
      };
    });
}
