// The extension's service worker: loads the component and answers
// `{type: "process", page, request}` messages with a meeting list.
import { load } from './core/index.js';

const SAMPLE_REQUEST = {
  user: 'alice@example.com',
  window: { from: '2026-11-30T00:00:00Z', to: '2026-12-07T00:00:00Z' },
  now: '2026-11-30T08:00:00Z',
};

/** Process the bundled sample page: what the extension's test checks. */
async function selfTest() {
  const core = await load();
  const page = await (await fetch(chrome.runtime.getURL('core/sample-events.json'))).text();
  const list = core.processPages(page, SAMPLE_REQUEST);
  return {
    contract: core.contractVersion(),
    meetings: list.meetings.length,
    join_buttons: list.join_buttons.length,
    keywords: list.meetings.filter((m) => m.keyword).map((m) => m.keyword),
  };
}
globalThis.hcalSelfTest = selfTest;

chrome.runtime.onMessage.addListener((message, _sender, reply) => {
  if (message?.type !== 'process') return false;
  load()
    .then((core) => reply({ ok: core.processPages(message.page, message.request ?? SAMPLE_REQUEST) }))
    .catch((e) => reply({ error: { kind: e.kind ?? 'error', message: e.message } }));
  return true; // the reply comes later
});
