//! The meeting list as JSON: the one shape the CLI prints, the API serves and
//! the golden files in `fixtures/` hold. It mirrors the WIT `types` interface
//! field for field (snake_case here, kebab-case there).

use serde::{Deserialize, Serialize};

/// Text that may have been sealed. Plain text serializes as a string; a sealed
/// value as `{"jwe": "...", "key_url": "kms://..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Plain(String),
    Sealed(Sealed),
}

impl Text {
    /// The plain text, or `None` when sealed.
    pub fn plain(&self) -> Option<&str> {
        match self {
            Text::Plain(s) => Some(s),
            Text::Sealed(_) => None,
        }
    }
}

/// A compact JWE and the KMS URL of the key that opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub jwe: String,
    pub key_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkSource {
    ConferenceData,
    EventUrl,
    Location,
    Description,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    #[serde(rename = "needsAction")]
    NeedsAction,
    #[serde(rename = "declined")]
    Declined,
    #[serde(rename = "tentative")]
    Tentative,
    #[serde(rename = "accepted")]
    Accepted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingType {
    PersonalRoom,
    Space,
    OneTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: String,
    pub to: String,
}

/// A join-link candidate as the core finds it (before sealing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinLink {
    pub uri: String,
    pub service: String,
    pub source: LinkSource,
}

/// A link of a meeting in a meeting list: its URI sealed when links are
/// (a join URL often carries its passcode, a dial-in its PIN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingLink {
    pub uri: Text,
    pub service: String,
    pub source: LinkSource,
}

impl From<JoinLink> for MeetingLink {
    fn from(link: JoinLink) -> MeetingLink {
        MeetingLink {
            uri: Text::Plain(link.uri),
            service: link.service,
            source: link.source,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingPerson {
    pub email: Text,
    pub name: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingAttendee {
    pub email: Text,
    pub name: Option<Text>,
    pub response: Response,
    pub room: bool,
    pub organizer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    pub key: String,
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    pub title: Option<Text>,
    pub location: Option<Text>,
    pub start: String,
    pub end: String,
    pub all_day: bool,
    pub time_zone: Option<String>,
    pub organizer: Option<MeetingPerson>,
    pub attendees: Vec<MeetingAttendee>,
    pub my_response: Option<Response>,
    pub status: EventStatus,
    pub keyword: Option<String>,
    pub join: Option<MeetingLink>,
    pub links: Vec<MeetingLink>,
    pub agenda: Option<Text>,
    #[serde(default)]
    pub recurring: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinButton {
    pub meeting_key: String,
    pub at: String,
    /// E-mail addresses, sealed with the other e-mails when those are.
    pub targets: Vec<Text>,
}

/// Google's `extendedProperties` in a PATCH body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedProperties {
    pub private: std::collections::BTreeMap<String, String>,
}

/// The `events.patch` body that adds join details to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patch {
    pub description: String,
    pub extended_properties: ExtendedProperties,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrichment {
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub patch: Patch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningRequest {
    pub event_id: String,
    pub meeting_type: MeetingType,
    pub title: String,
    pub start: String,
    pub end: String,
    pub time_zone: Option<String>,
    pub organizer: String,
    pub invitees: Vec<String>,
    /// The provider's id of the space or meeting already made for this event
    /// (`hcalMeetingId` in its private extended properties): reuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<String>,
    /// The event already carries the join details: only keep the provider in
    /// step (memberships, the meeting's time), no new join block.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enriched: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A problem with one event; the rest of its page was processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventError {
    pub event_id: Option<String>,
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_sync_token: Option<String>,
}

impl SyncState {
    pub fn is_empty(&self) -> bool {
        self.next_page_token.is_none() && self.next_sync_token.is_none()
    }
}

/// Whether Calendar declines invitations that overlap a block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoDecline {
    #[default]
    None,
    AllConflicting,
    OnlyNewConflicting,
}

impl AutoDecline {
    /// Google's `autoDeclineMode`; what it does not name declines nothing.
    pub fn from_google(mode: Option<&str>) -> AutoDecline {
        match mode {
            Some("declineAllConflictingInvitations") => AutoDecline::AllConflicting,
            Some("declineOnlyNewConflictingInvitations") => AutoDecline::OnlyNewConflicting,
            _ => AutoDecline::None,
        }
    }
}

/// Where the user works during a working-location block. Every part is
/// sealed with the `location` (a desk says where someone sits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Place {
    Home,
    Office {
        label: Option<Text>,
        building_id: Option<Text>,
        floor_id: Option<Text>,
        floor_section_id: Option<Text>,
        desk_id: Option<Text>,
    },
    Custom {
        label: Option<Text>,
    },
}

impl Place {
    /// Add every text of the place (what is sealed with the `location`) to `texts`.
    pub fn add_texts<'a>(&'a mut self, texts: &mut Vec<&'a mut Text>) {
        match self {
            Place::Home => {}
            Place::Custom { label } => texts.extend(label.as_mut()),
            Place::Office {
                label,
                building_id,
                floor_id,
                floor_section_id,
                desk_id,
            } => {
                for part in [label, building_id, floor_id, floor_section_id, desk_id] {
                    texts.extend(part.as_mut());
                }
            }
        }
    }
}

/// What a presence block says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PresenceKind {
    /// The decline message is sealed with the `agenda`.
    OutOfOffice {
        auto_decline: AutoDecline,
        message: Option<Text>,
    },
    /// Do not disturb unless the block's chat status is `available`.
    FocusTime {
        auto_decline: AutoDecline,
        message: Option<Text>,
        do_not_disturb: bool,
    },
    WorkingLocation {
        place: Place,
    },
}

/// An out-of-office, focus-time or working-location block: not a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceBlock {
    pub key: String,
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    pub title: Option<Text>,
    pub start: String,
    pub end: String,
    pub all_day: bool,
    pub time_zone: Option<String>,
    /// UTC instants; an all-day block runs midnight to midnight in the
    /// calendar's zone.
    pub starts_at: String,
    pub ends_at: String,
    pub kind: PresenceKind,
}

/// A birthday or other special date: not a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Birthday {
    pub key: String,
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    pub title: Option<Text>,
    pub start: String,
    pub end: String,
    /// `birthday`, `anniversary`, `custom`, `other` or `self`.
    pub kind: String,
    /// The label of a `custom` one, sealed with the `title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Text>,
}

/// A user's meetings in a window, with what the service must do about them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingList {
    pub user: String,
    pub window: Window,
    pub meetings: Vec<Meeting>,
    pub join_buttons: Vec<JoinButton>,
    pub enrichments: Vec<Enrichment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisioning: Vec<ProvisioningRequest>,
    pub errors: Vec<EventError>,
    #[serde(default, skip_serializing_if = "SyncState::is_empty")]
    pub sync: SyncState,
    /// Out of office, focus time and working location, by start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub presence: Vec<PresenceBlock>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub birthdays: Vec<Birthday>,
}

// ---- requests ---------------------------------------------------------------

/// The pages of a text that is one `events.list` page (or a single event)
/// or a JSON array of them, as `hcal process --events` and the gateway take
/// it: each page's text, for the core to parse.
///
/// ```
/// let pages = hcal_core::model::pages(r#"[{"items": []}, {"items": [], "nextSyncToken": "t"}]"#).unwrap();
/// assert_eq!(pages, [r#"{"items": []}"#, r#"{"items": [], "nextSyncToken": "t"}"#]);
/// assert_eq!(hcal_core::model::pages("{oops").unwrap(), ["{oops"]); // the core's to judge
/// ```
pub fn pages(text: &str) -> Result<Vec<String>, serde_json::Error> {
    if !text.trim_start().starts_with('[') {
        return Ok(vec![text.to_string()]);
    }
    let pages: Vec<&serde_json::value::RawValue> = serde_json::from_str(text)?;
    Ok(pages.into_iter().map(|p| p.get().to_string()).collect())
}

/// A serde message in the words of whoever wrote the JSON: serde names the
/// Rust type it wanted (`expected struct WirePage`), which is `an object`
/// to them. Used for the core's JSON errors and the host API's alike.
///
/// ```
/// assert_eq!(
///     hcal_core::model::without_rust_types("invalid type: integer `1`, expected struct WirePage"),
///     "invalid type: integer `1`, expected an object"
/// );
/// ```
pub fn without_rust_types(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("struct ") {
        out.push_str(&rest[..at]);
        out.push_str("an object");
        rest = &rest[at + "struct ".len()..];
        let name = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        rest = &rest[name..];
    }
    out.push_str(rest);
    out
}

/// What `@webex` and `@meet` mean without a modifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeywordDefaults {
    pub webex: MeetingType,
    pub meet: MeetingType,
}

impl Default for KeywordDefaults {
    fn default() -> Self {
        KeywordDefaults {
            webex: MeetingType::PersonalRoom,
            meet: MeetingType::Space,
        }
    }
}

/// The organisation's header and footer around the join details, and the
/// words before each detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JoinBlock {
    pub header: String,
    pub footer: String,
    pub labels: JoinLabels,
}

impl Default for JoinBlock {
    fn default() -> Self {
        JoinBlock {
            header: "Join the meeting".to_string(),
            footer: "Join details added by hcal.".to_string(),
            labels: JoinLabels::default(),
        }
    }
}

/// The words before each line of the join block, in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JoinLabels {
    pub join: String,
    pub video_address: String,
    pub meeting_number: String,
    pub password: String,
    pub call_in: String,
}

impl Default for JoinLabels {
    fn default() -> Self {
        JoinLabels {
            join: "Join".into(),
            video_address: "Video address".into(),
            meeting_number: "Meeting number".into(),
            password: "Password".into(),
            call_in: "Call in".into(),
        }
    }
}

impl JoinLabels {
    /// The built-in words for a language other than English (`de`, `fr`, `es`).
    pub fn builtin(language: &str) -> Option<JoinLabels> {
        let words = match language {
            "de" => [
                "Teilnehmen",
                "Videoadresse",
                "Meeting-Nummer",
                "Passwort",
                "Einwahl",
            ],
            "fr" => [
                "Rejoindre",
                "Adresse vidéo",
                "Numéro de réunion",
                "Mot de passe",
                "Appel entrant",
            ],
            "es" => [
                "Unirse",
                "Dirección de vídeo",
                "Número de reunión",
                "Contraseña",
                "Llamada entrante",
            ],
            _ => return None,
        };
        let [join, video_address, meeting_number, password, call_in] = words.map(String::from);
        Some(JoinLabels {
            join,
            video_address,
            meeting_number,
            password,
            call_in,
        })
    }
}

/// The private extended property that holds the provider's id of the space
/// or one-time meeting made for an event.
pub const MEETING_ID_PROPERTY: &str = "hcalMeetingId";

/// The join block for organizers whose Calendar locale is `locale` (`de`,
/// `en_GB`). What it leaves out comes from the built-in words for its
/// language, then from `join_block`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizedJoinBlock {
    pub locale: String,
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub footer: Option<String>,
    #[serde(default)]
    pub labels: Option<JoinLabels>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitiveField {
    Title,
    Location,
    Agenda,
    Emails,
    Names,
    /// Join links and the description's other links (URIs with their
    /// passcodes, dial-in numbers with their PINs).
    Links,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkOptions {
    pub custom_patterns: Vec<String>,
    pub max_links: u32,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            custom_patterns: Vec::new(),
            max_links: 50,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    pub lead_time_seconds: u32,
    pub keyword_defaults: KeywordDefaults,
    pub invitee_limit: u32,
    pub join_block: JoinBlock,
    /// Per-locale join blocks (the organizer's Calendar `locale` picks one).
    pub join_blocks: Vec<LocalizedJoinBlock>,
    pub sealed_fields: Vec<SensitiveField>,
    pub org_domains: Vec<String>,
    pub links: LinkOptions,
    /// Most instances one series may have in a window.
    pub max_instances: u32,
    /// List birthday events in `birthdays` (else they are left out).
    pub birthdays: bool,
}

impl Options {
    /// The join block for an organizer with Calendar `locale`: a configured
    /// block for the locale or its language, else the built-in words for the
    /// language under the organisation's header and footer, else `join_block`.
    ///
    /// ```
    /// let options = hcal_core::model::Options::default();
    /// assert_eq!(options.join_block_for(Some("de_AT")).labels.join, "Teilnehmen");
    /// assert_eq!(options.join_block_for(Some("en_GB")).labels.join, "Join");
    /// ```
    pub fn join_block_for(&self, locale: Option<&str>) -> JoinBlock {
        let main = &self.join_block;
        let Some(locale) = locale
            .map(|l| l.replace('-', "_"))
            .filter(|l| !l.is_empty())
        else {
            return main.clone();
        };
        let language = locale.split('_').next().unwrap_or("").to_ascii_lowercase();
        let configured = self
            .join_blocks
            .iter()
            .find(|b| b.locale.replace('-', "_").eq_ignore_ascii_case(&locale))
            .or_else(|| {
                self.join_blocks
                    .iter()
                    .find(|b| b.locale.eq_ignore_ascii_case(&language))
            });
        let labels = configured
            .and_then(|b| b.labels.clone())
            .or_else(|| JoinLabels::builtin(&language))
            .unwrap_or_else(|| main.labels.clone());
        JoinBlock {
            header: configured
                .and_then(|b| b.header.clone())
                .unwrap_or_else(|| main.header.clone()),
            footer: configured
                .and_then(|b| b.footer.clone())
                .unwrap_or_else(|| main.footer.clone()),
            labels,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lead_time_seconds: 300,
            keyword_defaults: KeywordDefaults::default(),
            invitee_limit: 1500,
            join_block: JoinBlock::default(),
            join_blocks: Vec::new(),
            // Everything event-derived that names, locates or lets one
            // into a meeting.
            sealed_fields: vec![
                SensitiveField::Title,
                SensitiveField::Location,
                SensitiveField::Agenda,
                SensitiveField::Emails,
                SensitiveField::Names,
                SensitiveField::Links,
            ],
            org_domains: Vec::new(),
            links: LinkOptions::default(),
            max_instances: 1000,
            birthdays: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInNumber {
    pub label: String,
    pub number: String,
}

/// Join details from the meeting provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinDetails {
    pub url: String,
    #[serde(default)]
    pub sip_address: Option<String>,
    #[serde(default)]
    pub meeting_number: Option<String>,
    #[serde(default)]
    pub call_in: Vec<CallInNumber>,
    #[serde(default)]
    pub password: Option<String>,
}

/// An organizer's Personal Room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub email: String,
    #[serde(default)]
    pub personal_room: Option<JoinDetails>,
}

/// A space or one-time meeting the host created for an event (or a series).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidedMeeting {
    pub event_id: String,
    pub meeting_type: MeetingType,
    pub details: JoinDetails,
    /// The provider's id of the space or meeting, recorded in the event.
    #[serde(default)]
    pub meeting_id: Option<String>,
}

/// An organisation key as the KMS hands it out.
#[derive(Clone, PartialEq, Eq)]
pub struct OrgKey {
    /// `kms://HOST/keys/UUID`
    pub key_url: String,
    /// 32 bytes.
    pub key: Vec<u8>,
}

impl std::fmt::Debug for OrgKey {
    // Keys never reach logs, not even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgKey")
            .field("key_url", &self.key_url)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Everything `process` needs besides the pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessRequest {
    pub user: String,
    pub window: Window,
    pub now: String,
    #[serde(default)]
    pub options: Options,
    #[serde(default)]
    pub profiles: Vec<Profile>,
    #[serde(default)]
    pub provided: Vec<ProvidedMeeting>,
    /// The user's Calendar `locale` (`de`, `en_GB`): picks the join block.
    #[serde(default)]
    pub locale: Option<String>,
    /// Set by the caller from a key file; never read from or written to JSON.
    #[serde(skip)]
    pub seal_with: Option<OrgKey>,
}
