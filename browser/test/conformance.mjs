// The fixture suite's rules, shared by the Node and Chromium runs (no Node
// APIs here): run one case, open what was sealed, compare with the golden
// file. The same rules as host/tests/fixtures.rs.

/** Replace every sealed value `{jwe, key_url}` by `{"$sealed": plaintext}`. */
export function openSealed(value, open) {
  if (Array.isArray(value)) return value.map((v) => openSealed(v, open));
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 2 && 'jwe' in value && 'key_url' in value) return { $sealed: open(value) };
    return Object.fromEntries(keys.map((k) => [k, openSealed(value[k], open)]));
  }
  return value;
}

/** One case through the core: the meeting list (sealed values opened) or `{error}`. */
export function runCase(core, { pages, request, key }) {
  try {
    const list = core.processPages(pages, request, { sealWith: key ?? undefined });
    return key ? openSealed(list, (sealed) => core.open(sealed, key)) : list;
  } catch (e) {
    if (e?.name !== 'HcalError') throw e;
    return { error: { kind: e.kind, message: e.message } };
  }
}

/** The first difference between two JSON values, as a path, or null. */
export function difference(actual, expected, path = '$') {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected an array, got ${JSON.stringify(actual)}`;
    if (actual.length !== expected.length) return `${path}: expected ${expected.length} items, got ${actual.length}`;
    for (let i = 0; i < expected.length; i++) {
      const d = difference(actual[i], expected[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: expected an object, got ${JSON.stringify(actual)}`;
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const k of [...keys].sort()) {
      if (!(k in expected)) return `${path}.${k}: not expected, got ${JSON.stringify(actual[k])}`;
      if (!(k in actual)) return `${path}.${k}: missing, expected ${JSON.stringify(expected[k])}`;
      const d = difference(actual[k], expected[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(actual, expected) ? null : `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}
