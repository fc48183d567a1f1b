// Types of @hcal/core: the service's JSON shapes (snake_case; `null` where a
// value is absent), as `hcal process` and the meeting-list API return them.

/** Text that the core may have sealed (when a key was given). */
export type Text = string | Sealed;

/** A compact JWE (`alg` `dir`, `enc` `A256GCM`) and the KMS URL of its key. */
export interface Sealed {
  jwe: string;
  key_url: string;
}

/** An organisation key as a key file holds it: the key is base64 of 32 bytes (or the bytes). */
export interface OrgKey {
  key_url: string;
  key: string | Uint8Array;
}

export type Response = 'needsAction' | 'declined' | 'tentative' | 'accepted';
export type EventStatus = 'confirmed' | 'tentative' | 'cancelled';
export type MeetingType = 'personal_room' | 'space' | 'one_time';
export type LinkSource = 'conference_data' | 'event_url' | 'location' | 'description';
export type SensitiveField = 'title' | 'location' | 'agenda' | 'emails' | 'names' | 'links';
export type ErrorKind = 'malformed-json' | 'invalid-field' | 'invalid-request' | 'invalid-key' | 'open-failed' | 'limit-exceeded';

export interface Window {
  /** RFC 3339. */
  from: string;
  to: string;
}

export interface JoinLink {
  uri: string;
  /** `webex`, `sip`, `tel`, `zoom`, `meet`, `teams`, ... or `other`. */
  service: string;
  source: LinkSource;
}

/** A meeting's link: its URI sealed when `links` are. */
export interface MeetingLink {
  uri: Text;
  /** `webex`, `sip`, `tel`, `zoom`, `meet`, `teams`, ... or `other`. */
  service: string;
  source: LinkSource;
}

export interface MeetingAttendee {
  email: Text;
  name: Text | null;
  response: Response;
  /** A resource calendar (a room device). */
  room: boolean;
  organizer: boolean;
}

export interface Meeting {
  /** Stable: the event id, or series id + `_` + original start for instances. */
  key: string;
  event_id: string;
  series_id?: string;
  title: Text | null;
  location: Text | null;
  /** RFC 3339 in the event's zone, or a date when `all_day`. */
  start: string;
  end: string;
  all_day: boolean;
  time_zone: string | null;
  organizer: { email: Text; name: Text | null } | null;
  attendees: MeetingAttendee[];
  my_response: Response | null;
  status: EventStatus;
  /** The keyword found in the location (`@webex`, `@meet:space`), or null. */
  keyword: string | null;
  /** The link to join with, or null. */
  join: MeetingLink | null;
  /** Every candidate, best first. */
  links: MeetingLink[];
  /** The description as plain text. */
  agenda: Text | null;
  recurring: boolean;
}

export interface JoinButton {
  meeting_key: string;
  /** RFC 3339, UTC: the start minus the lead time. */
  at: string;
  /** E-mail addresses of the invitees and room devices. */
  targets: Text[];
}

export interface Enrichment {
  event_id: string;
  /** For `If-Match`. */
  etag?: string;
  /** The `events.patch` body. */
  patch: { description: string; extendedProperties: { private: Record<string, string> } };
}

export interface ProvisioningRequest {
  event_id: string;
  meeting_type: MeetingType;
  title: string;
  start: string;
  end: string;
  time_zone: string | null;
  organizer: string;
  invitees: string[];
  existing_id?: string;
  enriched?: true;
}

export interface EventError {
  event_id: string | null;
  error: { code: string; field?: string; message: string };
}

export interface MeetingList {
  user: string;
  window: Window;
  meetings: Meeting[];
  join_buttons: JoinButton[];
  enrichments: Enrichment[];
  provisioning?: ProvisioningRequest[];
  errors: EventError[];
  sync?: { next_page_token?: string; next_sync_token?: string };
  /** Out of office, focus time and working location, by start (absent when none). */
  presence?: PresenceBlock[];
  birthdays?: Birthday[];
}

export type AutoDecline = 'none' | 'all_conflicting' | 'only_new_conflicting';

export type Place =
  | { type: 'home' }
  | { type: 'custom'; label: Text | null }
  | { type: 'office'; label: Text | null; building_id: Text | null; floor_id: Text | null; floor_section_id: Text | null; desk_id: Text | null };

export type PresenceKind =
  | { type: 'out_of_office'; auto_decline: AutoDecline; message: Text | null }
  | { type: 'focus_time'; auto_decline: AutoDecline; message: Text | null; do_not_disturb: boolean }
  | { type: 'working_location'; place: Place };

/** A block that is not a meeting: never a join button, never enriched. */
export interface PresenceBlock {
  key: string;
  event_id: string;
  series_id?: string;
  title: Text | null;
  start: string;
  end: string;
  all_day: boolean;
  time_zone: string | null;
  /** UTC instants; an all-day block runs midnight to midnight in the calendar's zone. */
  starts_at: string;
  ends_at: string;
  kind: PresenceKind;
}

export interface Birthday {
  key: string;
  event_id: string;
  series_id?: string;
  title: Text | null;
  start: string;
  end: string;
  kind: 'birthday' | 'anniversary' | 'custom' | 'other' | 'self' | string;
  label?: Text | null;
}

export interface JoinDetails {
  url: string;
  sip_address?: string | null;
  meeting_number?: string | null;
  call_in?: { label: string; number: string }[];
  password?: string | null;
}

export interface JoinLabels {
  join: string;
  video_address: string;
  meeting_number: string;
  password: string;
  call_in: string;
}

/** Every field is optional: the service's defaults fill the rest ({@link DEFAULT_OPTIONS}). */
export interface Options {
  lead_time_seconds?: number;
  keyword_defaults?: { webex?: MeetingType; meet?: MeetingType };
  invitee_limit?: number;
  join_block?: { header?: string; footer?: string; labels?: Partial<JoinLabels> };
  join_blocks?: { locale: string; header?: string | null; footer?: string | null; labels?: Partial<JoinLabels> | null }[];
  sealed_fields?: SensitiveField[];
  org_domains?: string[];
  links?: { custom_patterns?: string[]; max_links?: number };
  max_instances?: number;
  /** List birthday events in `birthdays` (default true). */
  birthdays?: boolean;
}

export interface ProcessRequest {
  /** Whose meeting list this is. */
  user: string;
  window: Window;
  /** The core has no clock: "now" is always given (RFC 3339). */
  now: string;
  options?: Options;
  profiles?: { email: string; personal_room?: JoinDetails | null }[];
  provided?: { event_id: string; meeting_type: MeetingType; details: JoinDetails; meeting_id?: string | null }[];
  /** The user's Calendar locale (`de`, `en_GB`): picks the join block. */
  locale?: string | null;
}

/** One of Google's `events.list` pages: JSON text or the parsed object. */
export type EventsPage = string | object;

export interface LinkFields {
  conference_data?: string;
  event_url?: string;
  location?: string;
  description?: string;
}

export interface Keyword {
  text: string;
  service: 'webex' | 'meet' | 'spark';
  meeting_type: MeetingType;
  offset: number;
}

/** A failed call: `kind` is the contract's error case. */
export class HcalError extends Error {
  readonly name: 'HcalError';
  readonly kind: ErrorKind;
  readonly detail: unknown;
}

export const DEFAULT_OPTIONS: Readonly<Required<Options>>;

/** Load the component (once; later calls share it). */
export function load(): Promise<Core>;

export class Core {
  /** The contract version the component implements (`0.5.0`). */
  contractVersion(): string;
  /** Google events pages into the user's meeting list; sealed fields with `sealWith`. */
  processPages(pages: EventsPage | EventsPage[], request: ProcessRequest, options?: { sealWith?: OrgKey }): MeetingList;
  /** Every join-link candidate of an event's fields, best first. */
  extractLinks(fields: LinkFields, options?: { customPatterns?: string[]; maxLinks?: number }): JoinLink[];
  /** The first keyword of a location, or null. */
  detectKeyword(location: string, defaults?: { webex: MeetingType; meet: MeetingType }): Keyword | null;
  /** A description (HTML or text) as plain text. */
  agendaText(description: string): string;
  /** The services links are classified as. */
  services(): { id: string; name: string }[];
  seal(plaintext: string, key: OrgKey): Sealed;
  /** @throws {HcalError} `open-failed` for a wrong key or a tampered value. */
  open(sealed: Sealed, key: OrgKey): string;
}
