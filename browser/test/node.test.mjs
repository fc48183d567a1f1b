// The golden fixtures and the JS API, through the transpiled component in Node.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { compactDecrypt } from 'jose';

import { HcalError, load } from '../index.js';
import { difference, runCase } from './conformance.mjs';
import { loadCases, workspace } from './fixtures.mjs';

const core = await load();
const KEY = { key_url: 'kms://kms.example.com/keys/test', key: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' };

test('it is the component of this checkout', () => {
  assert.equal(core.contractVersion(), '0.5.0');
});

test('every golden fixture, as the Rust runner sees it', () => {
  const cases = loadCases();
  assert.ok(cases.length >= 25, `${cases.length} cases`);
  const failures = cases
    .map((c) => [c.name, difference(runCase(core, c), c.expected)])
    .filter(([, d]) => d !== null);
  assert.deepEqual(failures, []);
});

test('a changed golden file is noticed', () => {
  const [first] = loadCases().filter((c) => !c.expected.error);
  const wrong = structuredClone(first.expected);
  wrong.meetings[0].title = 'Something else';
  assert.notEqual(difference(runCase(core, first), wrong), null);
});

test('join links: unwrapped, classified, ranked', () => {
  const links = core.extractLinks({
    location: 'Room 4',
    description: '<a href="https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F555&amp;data=05">Zoom</a> or https://acme.webex.com/meet/bob',
  });
  assert.deepEqual(links.map((l) => [l.service, l.uri]), [
    ['webex', 'https://acme.webex.com/meet/bob'],
    ['zoom', 'https://zoom.us/j/555'],
  ]);
  assert.ok(core.services().some((s) => s.id === 'teams'));
  assert.equal(core.detectKeyword('Room 1 @WebEx').text, '@webex');
  assert.equal(core.detectKeyword('no keyword here'), null);
  assert.equal(core.agendaText('<p>a &amp; b</p>'), 'a & b');
});

test('sealing: a round trip, a fresh IV each time, wrong keys and tampering refused', () => {
  const sealed = core.seal('Board prep', KEY);
  assert.equal(sealed.key_url, KEY.key_url);
  assert.equal(sealed.jwe.split('.').length, 5);
  assert.notEqual(core.seal('Board prep', KEY).jwe, sealed.jwe);
  assert.equal(core.open(sealed, KEY), 'Board prep');
  const other = { ...KEY, key: 'HxwdHhcYGRobFBUWEBESEwwNDg8ICQoLBAUGBwABAgM=' };
  assert.throws(() => core.open(sealed, other), (e) => e instanceof HcalError && e.kind === 'open-failed');
  const parts = sealed.jwe.split('.');
  parts[3] = parts[3].slice(0, -2) + (parts[3].endsWith('AA') ? 'BB' : 'AA');
  assert.throws(() => core.open({ ...sealed, jwe: parts.join('.') }, KEY), (e) => e.kind === 'open-failed');
  assert.throws(() => core.seal('x', { key_url: 'kms://k', key: 'c2hvcnQ=' }), (e) => e.kind === 'invalid-key');
});

test('a third-party JOSE library (jose) opens what the core seals, alone and in a page', async () => {
  const key = Buffer.from(KEY.key, 'base64');
  for (const text of ['', 'Board prep', 'é€'.repeat(700), 'x'.repeat(10_000)]) {
    const { plaintext, protectedHeader } = await compactDecrypt(core.seal(text, KEY).jwe, key);
    assert.deepEqual(protectedHeader, { alg: 'dir', enc: 'A256GCM' });
    assert.equal(new TextDecoder().decode(plaintext), text);
  }
  const page = readFileSync(join(workspace, 'fixtures', 'demo', 'events.json'), 'utf8');
  const request = { user: 'alice@example.com', window: { from: '2026-11-30T00:00:00Z', to: '2026-12-07T00:00:00Z' }, now: '2026-11-30T08:00:00Z' };
  const plain = core.processPages(page, request);
  const sealed = core.processPages(page, request, { sealWith: KEY });
  assert.equal(sealed.meetings.length, plain.meetings.length);
  let opened = 0;
  for (const [i, meeting] of sealed.meetings.entries()) {
    for (const field of ['title', 'location', 'agenda']) {
      const value = meeting[field];
      if (value === null || value === undefined) continue;
      assert.ok(value.jwe, `${field} of ${meeting.key} is sealed`);
      const { plaintext } = await compactDecrypt(value.jwe, key);
      assert.equal(new TextDecoder().decode(plaintext), plain.meetings[i][field]);
      opened++;
    }
  }
  assert.ok(opened >= 20, `${opened} values opened`);
});

test('bad input is a typed error, not a crash', () => {
  const request = { user: 'a@example.com', window: { from: '2026-11-30T00:00:00Z', to: '2026-12-07T00:00:00Z' }, now: '2026-11-30T08:00:00Z' };
  assert.throws(() => core.processPages('{"items": [', request), (e) => e.kind === 'malformed-json' && /line 1/.test(e.message));
  assert.throws(() => core.processPages({ items: [] }, { ...request, window: { from: 'soon', to: 'later' } }), (e) => e.kind === 'invalid-request');
  const huge = { items: [{ id: 'big', status: 'confirmed', summary: 'Big', description: '<div>'.repeat(50_000) + 'x'.repeat(1_000_000), start: { dateTime: '2026-12-01T09:00:00Z' }, end: { dateTime: '2026-12-01T10:00:00Z' } }] };
  const list = core.processPages(huge, request);
  assert.equal(list.meetings.length + list.errors.length, 1);
});

test('the demo week (the page the demo and the extension show)', () => {
  const page = readFileSync(join(workspace, 'fixtures', 'demo', 'events.json'), 'utf8');
  const list = core.processPages(page, { user: 'alice@example.com', window: { from: '2026-11-30T00:00:00Z', to: '2026-12-07T00:00:00Z' }, now: '2026-11-30T08:00:00Z' });
  assert.ok(list.meetings.length >= 10, `${list.meetings.length} meetings`);
  assert.ok(list.join_buttons.length > 0);
  assert.ok(list.meetings.some((m) => m.keyword === '@webex'));
});
