// Compiled with `tsc --noEmit --strict` by `make browser-test`: the types
// describe the API as the tests use it.
import { DEFAULT_OPTIONS, HcalError, load, type MeetingList } from '../index.js';

async function main(): Promise<number> {
  const core = await load();
  const list: MeetingList = core.processPages({ items: [] }, {
    user: 'alice@example.com',
    window: { from: '2026-11-30T00:00:00Z', to: '2026-12-07T00:00:00Z' },
    now: '2026-11-30T08:00:00Z',
    options: { lead_time_seconds: 120, keyword_defaults: { meet: 'one_time' } },
  });
  const first = list.meetings[0];
  const title: string = typeof first?.title === 'string' ? first.title : first?.title?.jwe ?? '';
  const sealed = core.seal(title, { key_url: 'kms://k/keys/1', key: new Uint8Array(32) });
  try {
    core.open(sealed, { key_url: sealed.key_url, key: 'AAAA' });
  } catch (e) {
    if (e instanceof HcalError && e.kind === 'invalid-key') return 1;
  }
  return core.extractLinks({ description: 'https://zoom.us/j/1' }).length + DEFAULT_OPTIONS.lead_time_seconds;
}
void main();
