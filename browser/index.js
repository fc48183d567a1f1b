// hcal's core in JavaScript: the same WebAssembly component the service runs
// in wasmtime, transpiled by jco. The API speaks the JSON the service's API
// and `hcal process` speak (snake_case, `null` for absent values), so a
// meeting list made here equals one made there.
//
//   import { load } from '@hcal/core';
//   const core = await load();
//   const list = core.processPages(eventsListJson, {
//     user: 'alice@example.com',
//     window: { from: '2026-11-30T00:00:00Z', to: '2026-12-07T00:00:00Z' },
//     now: '2026-11-30T08:00:00Z',
//   });

import { $init, processor } from './dist/core/hcal-core.js';

/** A failed call: `kind` is the contract's error case (`malformed-json`, ...). */
export class HcalError extends Error {
  constructor(kind, message, detail) {
    super(message);
    this.name = 'HcalError';
    this.kind = kind;
    this.detail = detail;
  }
}

/** Load the component (once; later calls share it). */
let loading;
export function load() {
  loading ??= $init.then(() => new Core());
  return loading;
}

// ---- the contract's enums in the JSON's spelling ----------------------------

const RESPONSE = { 'needs-action': 'needsAction', declined: 'declined', tentative: 'tentative', accepted: 'accepted' };
const snake = (tag) => tag.replaceAll('-', '_');
const kebab = (name) => String(name).replaceAll('_', '-');

/** The service's defaults (`hcal_core::model::Options::default()`). */
export const DEFAULT_OPTIONS = Object.freeze({
  lead_time_seconds: 300,
  keyword_defaults: { webex: 'personal_room', meet: 'space' },
  invitee_limit: 1500,
  join_block: {
    header: 'Join the meeting',
    footer: 'Join details added by hcal.',
    labels: { join: 'Join', video_address: 'Video address', meeting_number: 'Meeting number', password: 'Password', call_in: 'Call in' },
  },
  join_blocks: [],
  sealed_fields: ['title', 'location', 'agenda', 'emails', 'names', 'links'],
  org_domains: [],
  links: { custom_patterns: [], max_links: 50 },
  max_instances: 1000,
  birthdays: true,
});

const opt = (value, map = (v) => v) => (value === null || value === undefined ? undefined : map(value));
const none = (value) => (value === undefined ? null : value);

function labels(l) {
  return { join: l.join, videoAddress: l.video_address, meetingNumber: l.meeting_number, password: l.password, callIn: l.call_in };
}

function joinDetails(d) {
  return {
    url: d.url,
    sipAddress: opt(d.sip_address),
    meetingNumber: opt(d.meeting_number),
    callIn: (d.call_in ?? []).map((c) => ({ label: c.label, number: c.number })),
    password: opt(d.password),
  };
}

function options(o = {}) {
  const d = DEFAULT_OPTIONS;
  const block = { ...d.join_block, ...(o.join_block ?? {}) };
  const links = { ...d.links, ...(o.links ?? {}) };
  const defaults = { ...d.keyword_defaults, ...(o.keyword_defaults ?? {}) };
  return {
    leadTimeSeconds: o.lead_time_seconds ?? d.lead_time_seconds,
    keywordDefaults: { webex: kebab(defaults.webex), meet: kebab(defaults.meet) },
    inviteeLimit: o.invitee_limit ?? d.invitee_limit,
    joinBlock: { header: block.header, footer: block.footer, labels: labels({ ...d.join_block.labels, ...(block.labels ?? {}) }) },
    joinBlocks: (o.join_blocks ?? []).map((b) => ({
      locale: b.locale,
      header: opt(b.header),
      footer: opt(b.footer),
      labels: opt(b.labels, (l) => labels({ ...d.join_block.labels, ...l })),
    })),
    sealedFields: o.sealed_fields ?? [...d.sealed_fields],
    orgDomains: o.org_domains ?? [],
    links: { customPatterns: links.custom_patterns, maxLinks: links.max_links },
    maxInstances: o.max_instances ?? d.max_instances,
    birthdays: o.birthdays ?? d.birthdays,
  };
}

/** A key as `hcal process --key-file` reads it: `{key_url, key: base64}`. */
function orgKey(key) {
  if (!key || typeof key.key_url !== 'string') {
    throw new HcalError('invalid-key', 'invalid key: expected {"key_url": "kms://...", "key": "<base64 of 32 bytes>"}');
  }
  const bytes = typeof key.key === 'string' ? Uint8Array.from(atob(key.key), (c) => c.charCodeAt(0)) : new Uint8Array(key.key);
  return { keyUrl: key.key_url, key: bytes };
}

function request(r, sealWith) {
  return {
    user: r.user,
    window: { from: r.window?.from, to: r.window?.to },
    now: r.now,
    options: options(r.options),
    profiles: (r.profiles ?? []).map((p) => ({ email: p.email, personalRoom: opt(p.personal_room, joinDetails) })),
    provided: (r.provided ?? []).map((p) => ({
      eventId: p.event_id,
      meetingType: kebab(p.meeting_type),
      details: joinDetails(p.details),
      meetingId: opt(p.meeting_id),
    })),
    locale: opt(r.locale),
    sealWith: opt(sealWith, orgKey),
  };
}

// ---- the component's answers as the service's JSON ---------------------------

function text(t) {
  if (t === undefined) return null;
  return t.tag === 'plain' ? t.val : { jwe: t.val.jwe, key_url: t.val.keyUrl };
}

const joinLink = (l) => ({ uri: l.uri, service: l.service, source: snake(l.source) });
// A meeting's link: its URI sealed when links are.
const meetingLink = (l) => ({ uri: text(l.uri), service: l.service, source: snake(l.source) });

function meeting(m) {
  const out = {
    key: m.key,
    event_id: m.eventId,
    title: text(m.title),
    location: text(m.location),
    start: m.start,
    end: m.end,
    all_day: m.allDay,
    time_zone: none(m.timeZone),
    organizer: m.organizer === undefined ? null : { email: text(m.organizer.email), name: text(m.organizer.name) },
    attendees: m.attendees.map((a) => ({
      email: text(a.email),
      name: text(a.name),
      response: RESPONSE[a.response],
      room: a.room,
      organizer: a.organizer,
    })),
    my_response: m.myResponse === undefined ? null : RESPONSE[m.myResponse],
    status: m.status,
    keyword: none(m.keyword),
    join: m.join === undefined ? null : meetingLink(m.join),
    links: m.links.map(meetingLink),
    agenda: text(m.agenda),
    recurring: m.recurring,
  };
  if (m.seriesId !== undefined) out.series_id = m.seriesId;
  return out;
}

function place(p) {
  switch (p.tag) {
    case 'home':
      return { type: 'home' };
    case 'custom':
      return { type: 'custom', label: text(p.val) };
    default: {
      const o = p.val;
      return {
        type: 'office',
        label: text(o.label),
        building_id: text(o.buildingId),
        floor_id: text(o.floorId),
        floor_section_id: text(o.floorSectionId),
        desk_id: text(o.deskId),
      };
    }
  }
}

function presenceKind(k) {
  switch (k.tag) {
    case 'out-of-office':
      return { type: 'out_of_office', auto_decline: snake(k.val.autoDecline), message: text(k.val.message) };
    case 'focus-time':
      return { type: 'focus_time', auto_decline: snake(k.val.autoDecline), message: text(k.val.message), do_not_disturb: k.val.doNotDisturb };
    default:
      return { type: 'working_location', place: place(k.val) };
  }
}

function presenceBlock(b) {
  const out = {
    key: b.key,
    event_id: b.eventId,
    title: text(b.title),
    start: b.start,
    end: b.end,
    all_day: b.allDay,
    time_zone: none(b.timeZone),
    starts_at: b.startsAt,
    ends_at: b.endsAt,
    kind: presenceKind(b.kind),
  };
  if (b.seriesId !== undefined) out.series_id = b.seriesId;
  return out;
}

function meetingList(l) {
  const out = {
    user: l.user,
    window: { from: l.window.from, to: l.window.to },
    meetings: l.meetings.map(meeting),
    join_buttons: l.joinButtons.map((b) => ({ meeting_key: b.meetingKey, at: b.at, targets: b.targets.map(text) })),
    enrichments: l.enrichments.map((e) => {
      const enrichment = {
        event_id: e.eventId,
        patch: {
          description: e.description,
          extendedProperties: { private: Object.fromEntries([...e.privateProperties].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) },
        },
      };
      if (e.etag !== undefined) enrichment.etag = e.etag;
      return enrichment;
    }),
    errors: l.errors.map((e) => {
      const error = { code: e.code, message: e.message };
      if (e.field !== undefined) error.field = e.field;
      return { event_id: none(e.eventId), error };
    }),
  };
  if (l.provisioning.length > 0) {
    out.provisioning = l.provisioning.map((p) => {
      const need = {
        event_id: p.eventId,
        meeting_type: snake(p.meetingType),
        title: p.title,
        start: p.start,
        end: p.end,
        time_zone: none(p.timeZone),
        organizer: p.organizer,
        invitees: p.invitees,
      };
      if (p.existingId !== undefined) need.existing_id = p.existingId;
      if (p.enriched) need.enriched = true;
      return need;
    });
  }
  if (l.presence.length > 0) out.presence = l.presence.map(presenceBlock);
  if (l.birthdays.length > 0) {
    out.birthdays = l.birthdays.map((b) => {
      const day = { key: b.key, event_id: b.eventId, title: text(b.title), start: b.start, end: b.end, kind: b.kind };
      if (b.seriesId !== undefined) day.series_id = b.seriesId;
      if (b.label !== undefined) day.label = text(b.label);
      return day;
    });
  }
  const sync = {};
  if (l.sync.nextPageToken !== undefined) sync.next_page_token = l.sync.nextPageToken;
  if (l.sync.nextSyncToken !== undefined) sync.next_sync_token = l.sync.nextSyncToken;
  if (Object.keys(sync).length > 0) out.sync = sync;
  return out;
}

/** The contract's error, with the words `hcal process` uses. */
function describe(error) {
  const { tag, val } = error;
  switch (tag) {
    case 'malformed-json':
      return `malformed JSON${val.page === undefined ? '' : ` in page ${val.page}`}: ${val.message} (line ${val.line}, column ${val.column})`;
    case 'invalid-field':
      return `invalid field \`${val.field}\`${val.eventId === undefined ? '' : ` of event ${val.eventId}`}: ${val.message}`;
    case 'invalid-request': return `invalid request: ${val}`;
    case 'invalid-key': return `invalid key: ${val}`;
    case 'open-failed': return `cannot open sealed value: ${val}`;
    case 'limit-exceeded': return `limit exceeded: ${val}`;
    default: return `${tag}: ${JSON.stringify(val)}`;
  }
}

function call(f) {
  try {
    return f();
  } catch (e) {
    // The contract's error: thrown as is, or wrapped in jco's ComponentError.
    const payload = e?.payload ?? e;
    if (payload && typeof payload.tag === 'string' && 'val' in payload) {
      throw new HcalError(payload.tag, describe(payload), payload.val);
    }
    throw e;
  }
}

const pageText = (page) => (typeof page === 'string' ? page : JSON.stringify(page));
const LINK_SOURCES = ['conference_data', 'event_url', 'location', 'description'];

/** The loaded component. */
export class Core {
  /** The contract version the component implements (`0.5.0`). */
  contractVersion() {
    return processor.contractVersion();
  }

  /**
   * Google `events.list` JSON (a page, an array of pages, or text) into the
   * user's meeting list. `request` is `{user, window: {from, to}, now,
   * options?, profiles?, provided?, locale?}` in the service's JSON; with
   * `sealWith` (`{key_url, key}`) the sensitive fields come back sealed.
   */
  processPages(pages, request_, { sealWith } = {}) {
    const list = Array.isArray(pages) ? pages : [pages];
    return call(() => meetingList(processor.process(list.map(pageText), request(request_, sealWith))));
  }

  /**
   * Every join-link candidate of an event's fields, best first:
   * `{conference_data?, event_url?, location?, description?}` (text; HTML
   * descriptions are fine).
   */
  extractLinks(fields, { customPatterns = [], maxLinks = 50 } = {}) {
    const list = LINK_SOURCES.filter((s) => typeof fields[s] === 'string')
      .map((s) => ({ source: kebab(s), text: fields[s] }));
    return processor.extractLinks(list, { customPatterns, maxLinks }).map(joinLink);
  }

  /** The first keyword of a location (`@webex`, `@meet:space`, ...), or null. */
  detectKeyword(location, defaults = DEFAULT_OPTIONS.keyword_defaults) {
    const found = processor.detectKeyword(location, { webex: kebab(defaults.webex), meet: kebab(defaults.meet) });
    return found === undefined ? null : { text: found.text, service: found.service, meeting_type: snake(found.meetingType), offset: found.offset };
  }

  /** A description (HTML or text) as plain text. */
  agendaText(description) {
    return processor.agendaText(description);
  }

  /** The services links are classified as. */
  services() {
    return processor.services().map((s) => ({ id: s.id, name: s.name }));
  }

  /** Seal a value as a compact JWE: `{jwe, key_url}`. */
  seal(plaintext, key) {
    const sealed = call(() => processor.seal(plaintext, orgKey(key)));
    return { jwe: sealed.jwe, key_url: sealed.keyUrl };
  }

  /** Open a sealed value; a wrong key or a tampered value is an `HcalError`. */
  open(sealed, key) {
    return call(() => processor.open({ jwe: sealed.jwe, keyUrl: sealed.key_url }, orgKey(key)));
  }
}
