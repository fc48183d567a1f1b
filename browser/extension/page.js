// The popup: the bundled sample page through the component, in the page
// itself (extension pages allow WebAssembly with 'wasm-unsafe-eval').
import { load } from './core/index.js';

const status = document.getElementById('status');
try {
  const core = await load();
  const page = await (await fetch('core/sample-events.json')).text();
  const list = core.processPages(page, {
    user: 'alice@example.com',
    window: { from: '2026-11-30T00:00:00Z', to: '2026-12-07T00:00:00Z' },
    now: '2026-11-30T08:00:00Z',
  });
  document.getElementById('meetings').replaceChildren(...list.meetings.map((m) => {
    const item = document.createElement('li');
    item.textContent = `${m.start.slice(0, 16).replace('T', ' ')} ${m.title}${m.join ? ` — ${m.join.service}` : ''}`;
    return item;
  }));
  status.textContent = `${list.meetings.length} meetings, ${list.join_buttons.length} join buttons (hcal:core@${core.contractVersion()})`;
  document.body.dataset.state = 'ready';
} catch (e) {
  status.textContent = `hcal: ${e.message}`;
  document.body.dataset.state = 'error';
}
