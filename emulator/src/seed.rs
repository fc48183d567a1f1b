//! What the emulated domain starts with: users, rooms, the service account,
//! ACL rules, events and vacation settings.
//!
//! A seed directory holds
//! - `domain.json`: `{"domain", "seed", "service_account": {"project_id",
//!   "client_email", "client_id", "private_key_id"}, "delegated_scopes": [..],
//!   "users": [{"email","name","time_zone","locale","admin"}],
//!   "rooms": [{"email","name","capacity","time_zone"}],
//!   "acl": [{"calendar","role","scope":{"type","value"}}],
//!   "webex": {"site", "access_tokens": [..], "without_personal_room": [..]}}`;
//! - `service-account.pem`: the service account's PKCS#8 RSA private key (the
//!   emulator verifies assertions with its public half and writes it into the
//!   key file it hands out);
//! - `events/<calendar id>.json`: a JSON array of events or an `events.list`
//!   page, stored as given (events whose organizer or attendees are in the
//!   domain also land in those calendars, as invitations do);
//! - `vacation/<email>.json`: Gmail vacation settings.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::EmulatorError;

/// The emulated domain's starting state.
#[derive(Debug, Clone)]
pub struct Seed {
    pub(crate) domain: DomainSeed,
    pub(crate) private_key_pem: Option<String>,
    pub(crate) events: Vec<(String, Vec<Value>)>,
    pub(crate) vacations: Vec<(String, Value)>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DomainSeed {
    pub domain: String,
    /// Makes generated ids and fault dice repeatable.
    #[serde(default)]
    pub seed: u64,
    pub service_account: ServiceAccountSeed,
    #[serde(default)]
    pub delegated_scopes: Vec<String>,
    #[serde(default)]
    pub users: Vec<UserSeed>,
    #[serde(default)]
    pub rooms: Vec<RoomSeed>,
    #[serde(default)]
    pub acl: Vec<AclSeed>,
    /// The Webex site, its bot tokens, who has no Personal Room.
    #[serde(default)]
    pub webex: crate::webex::WebexSeed,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ServiceAccountSeed {
    pub project_id: String,
    pub client_email: String,
    pub client_id: String,
    pub private_key_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserSeed {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default = "english")]
    pub locale: String,
    #[serde(default)]
    pub admin: bool,
    /// `false`: the service account may not act as this user (as when the
    /// user sits in an organisational unit delegation does not cover).
    #[serde(default = "yes")]
    pub delegation: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RoomSeed {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default = "utc")]
    pub time_zone: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AclSeed {
    pub calendar: String,
    pub role: String,
    pub scope: AclScopeSeed,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AclScopeSeed {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub value: Option<String>,
}

fn utc() -> String {
    "UTC".into()
}

fn english() -> String {
    "en".into()
}

impl Seed {
    /// The built-in demo organisation: `example.com`, with alice's calendar
    /// (a weekly standup with a moved and a cancelled instance, Webex and Meet
    /// meetings, a room), bob, carol (on vacation), rooms and an admin.
    pub fn demo() -> Result<Seed, EmulatorError> {
        let domain = parse_domain(include_str!("../seed/demo/domain.json"), "demo/domain.json")?;
        let alice = events_of(
            include_str!("../../fixtures/demo/events.json"),
            "fixtures/demo/events.json",
        )?;
        let carol: Value =
            serde_json::from_str(include_str!("../seed/demo/vacation/carol@example.com.json"))
                .map_err(|e| seed_error(&"demo/vacation", e))?;
        Ok(Seed {
            domain,
            private_key_pem: Some(include_str!("../seed/demo/service-account.pem").to_string()),
            events: vec![("alice@example.com".into(), alice)],
            vacations: vec![("carol@example.com".into(), carol)],
        })
    }

    /// Read a seed directory (see the module documentation for its layout).
    pub fn from_dir(dir: &Path) -> Result<Seed, EmulatorError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| EmulatorError::Seed {
                path: path.display().to_string(),
                message: e.to_string(),
            })
        };
        let domain_path = dir.join("domain.json");
        let domain = parse_domain(&read(&domain_path)?, &domain_path.display().to_string())?;
        let key_path = dir.join("service-account.pem");
        let private_key_pem = if key_path.exists() {
            Some(read(&key_path)?)
        } else {
            None
        };
        let mut events = Vec::new();
        for (name, path) in json_files(&dir.join("events"))? {
            events.push((name, events_of(&read(&path)?, &path.display().to_string())?));
        }
        let mut vacations = Vec::new();
        for (name, path) in json_files(&dir.join("vacation"))? {
            let value =
                serde_json::from_str(&read(&path)?).map_err(|e| seed_error(&path.display(), e))?;
            vacations.push((name, value));
        }
        Ok(Seed {
            domain,
            private_key_pem,
            events,
            vacations,
        })
    }

    /// Add a user to the domain before starting (benchmarks, tests): UTC,
    /// English, delegation granted.
    pub fn with_user(mut self, email: &str, name: &str) -> Seed {
        self.domain.users.push(UserSeed {
            email: email.to_ascii_lowercase(),
            name: Some(name.to_string()),
            time_zone: utc(),
            locale: english(),
            admin: false,
            delegation: true,
        });
        self
    }

    /// Add events to a calendar before starting (benchmarks, tests).
    pub fn with_events(mut self, calendar_id: &str, events: Vec<Value>) -> Seed {
        self.events.push((calendar_id.to_string(), events));
        self
    }
}

fn parse_domain(text: &str, path: &str) -> Result<DomainSeed, EmulatorError> {
    serde_json::from_str(text).map_err(|e| seed_error(&path, e))
}

/// A calendar's seeded events: an array, or an `events.list` page's `items`.
fn events_of(text: &str, path: &str) -> Result<Vec<Value>, EmulatorError> {
    let value: Value = serde_json::from_str(text).map_err(|e| seed_error(&path, e))?;
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut page) => match page.remove("items") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(seed_error(
                &path,
                "expected an array of events or a page with \"items\"",
            )),
        },
        _ => Err(seed_error(
            &path,
            "expected an array of events or a page with \"items\"",
        )),
    }
}

/// `(file stem, path)` of each `*.json` in `dir`, sorted; none if `dir` is absent.
fn json_files(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, EmulatorError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| seed_error(&dir.display(), e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| seed_error(&dir.display(), e))?.path();
        if path.extension().is_some_and(|ext| ext == "json")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            files.push((stem.to_string(), path.clone()));
        }
    }
    files.sort();
    Ok(files)
}

fn seed_error(path: &dyn std::fmt::Display, message: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Seed {
        path: path.to_string(),
        message: message.to_string(),
    }
}
