//! The emulated domain in memory: users, rooms, calendars and their ACLs,
//! issued tokens, OpenID Connect sign-in, push channels, the fault plan, the
//! audit log and the clock.
//! Events and their queries live in `calendar`; this module is who is who and
//! who may do what.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use crate::errors::{ApiError, EmulatorError};
use crate::faults::Fault;
use crate::seed::Seed;

/// A calendar access level, weakest first (Google's `accessRole` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    None,
    FreeBusyReader,
    Reader,
    Writer,
    Owner,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "none" => Role::None,
            "freeBusyReader" => Role::FreeBusyReader,
            "reader" => Role::Reader,
            "writer" => Role::Writer,
            "owner" => Role::Owner,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::None => "none",
            Role::FreeBusyReader => "freeBusyReader",
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Owner => "owner",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: Option<String>,
    pub time_zone: String,
    pub locale: String,
    pub admin: bool,
    /// The service account may act as this user.
    pub delegation: bool,
    pub vacation: Value,
}

/// One stored copy of an event in one calendar.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The event resource as Google would return it.
    pub body: Value,
    /// The change sequence number of its last change (sync tokens compare it).
    pub changed: u64,
    /// Deleted: listed only as a `cancelled` tombstone.
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Calendar {
    pub summary: String,
    pub time_zone: String,
    /// A room resource's calendar.
    pub room: bool,
    /// Seats, for rooms.
    pub capacity: Option<u32>,
    /// Bumped to invalidate every sync token issued for this calendar.
    pub epoch: u64,
    /// Google's opaque id of "this calendar's events" for push channels.
    pub resource_id: String,
    /// Rule id (`user:bob@example.com`) → rule resource.
    pub acl: BTreeMap<String, Value>,
    pub events: BTreeMap<String, StoredEvent>,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub user: String,
    pub scopes: BTreeSet<String>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub client_id: String,
    pub private_key_id: String,
    /// PKCS#1 `RSAPublicKey` DER, what ring verifies against.
    pub public_key: Vec<u8>,
    pub private_key_pem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub calendar_id: String,
    pub resource_id: String,
    pub address: String,
    pub token: Option<String>,
    /// Unix milliseconds; no notifications after it.
    pub expiration: Option<i64>,
    pub next_message: u64,
}

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// The token's user (or who signed in); `None` before authentication
    /// (and for the jwt-bearer grant at `/token`).
    pub user: Option<String>,
    pub method: String,
    /// The path as sent (still percent-encoded), without the query.
    pub path: String,
    pub query: Option<String>,
    /// Google's method id, e.g. `calendar.events.list`.
    pub route: String,
    /// The status of the answer (an injected fault's too; `200` for a
    /// dropped connection, whose headers went out before the cut).
    pub status: u16,
    /// The request's `User-Agent` header: which client made the call.
    pub agent: Option<String>,
    /// When the request came in, Unix milliseconds on the emulator's clock
    /// ([`crate::Emulator::now`], moved by
    /// [`crate::Emulator::advance_clock`]).
    pub started_ms: i64,
    /// When its answer was ready (after any injected latency): `started_ms`
    /// plus the real time elapsed, so never before `started_ms`.
    pub finished_ms: i64,
}

pub struct State {
    pub domain: String,
    pub service_account: ServiceAccount,
    pub delegated_scopes: BTreeSet<String>,
    pub users: BTreeMap<String, User>,
    pub calendars: BTreeMap<String, Calendar>,
    pub tokens: HashMap<String, AccessToken>,
    pub channels: BTreeMap<String, Channel>,
    pub faults: Vec<Fault>,
    /// Faults injected so far, by kind (`429`, `503`, `connection reset`,
    /// `slow`, `push dropped`, ...).
    pub injected: BTreeMap<String, u64>,
    pub audit: Vec<AuditEntry>,
    pub clock_offset: i64,
    pub webex: crate::webex::WebexState,
    /// OpenID Connect sign-in: OAuth clients, codes, ID-token signing keys.
    pub oidc: crate::oidc::Oidc,
    /// Global change sequence; every stored change takes the next number.
    pub seq: u64,
    rng: u64,
}

impl State {
    pub fn from_seed(seed: Seed, base_url: &str) -> Result<State, EmulatorError> {
        let domain = seed.domain;
        let public_key = match &seed.private_key_pem {
            Some(pem) => {
                crate::auth::public_key_of(pem).map_err(|message| EmulatorError::Seed {
                    path: "service-account.pem".into(),
                    message,
                })?
            }
            None => Vec::new(),
        };
        let service_account = ServiceAccount {
            project_id: domain.service_account.project_id.clone(),
            client_email: domain.service_account.client_email.clone(),
            client_id: domain.service_account.client_id.clone(),
            private_key_id: domain.service_account.private_key_id.clone(),
            public_key,
            private_key_pem: seed.private_key_pem.clone(),
        };
        let mut state = State {
            domain: domain.domain.to_ascii_lowercase(),
            service_account,
            delegated_scopes: domain.delegated_scopes.iter().cloned().collect(),
            users: BTreeMap::new(),
            calendars: BTreeMap::new(),
            tokens: HashMap::new(),
            channels: BTreeMap::new(),
            faults: Vec::new(),
            injected: BTreeMap::new(),
            audit: Vec::new(),
            clock_offset: 0,
            webex: crate::webex::WebexState::from_seed(&domain.webex, Timestamp::now().as_second()),
            oidc: crate::oidc::Oidc::new(
                domain
                    .oauth_clients
                    .iter()
                    .map(|client| crate::oidc::OAuthClient {
                        client_id: client.client_id.clone(),
                        client_secret: client.client_secret.clone(),
                        redirect_uris: client.redirect_uris.clone(),
                        name: client.name.clone().unwrap_or_else(|| "hcal".into()),
                    })
                    .collect(),
            )?,
            seq: 0,
            rng: domain.seed ^ 0x9e37_79b9_7f4a_7c15,
        };
        let _ = base_url;
        for user in &domain.users {
            let email = user.email.to_ascii_lowercase();
            state.users.insert(
                email.clone(),
                User {
                    name: user.name.clone(),
                    time_zone: user.time_zone.clone(),
                    locale: user.locale.clone(),
                    admin: user.admin,
                    delegation: user.delegation,
                    vacation: json!({ "enableAutoReply": false }),
                },
            );
            state.add_calendar(&email, &email, &user.time_zone, None);
        }
        for room in &domain.rooms {
            let email = room.email.to_ascii_lowercase();
            let name = room.name.clone().unwrap_or_else(|| email.clone());
            state.add_calendar(&email, &name, &room.time_zone, Some(room.capacity));
        }
        for rule in &domain.acl {
            let calendar = rule.calendar.to_ascii_lowercase();
            let body = json!({ "role": rule.role, "scope": { "type": rule.scope.kind, "value": rule.scope.value } });
            state
                .insert_acl(&calendar, &body)
                .map_err(|e| EmulatorError::Seed {
                    path: "domain.json acl".into(),
                    message: e.message,
                })?;
        }
        for (email, vacation) in seed.vacations {
            let email = email.to_ascii_lowercase();
            match state.users.get_mut(&email) {
                Some(user) => user.vacation = vacation,
                None => {
                    return Err(EmulatorError::Seed {
                        path: format!("vacation/{email}.json"),
                        message: "no such user in domain.json".into(),
                    });
                }
            }
        }
        for (calendar, events) in seed.events {
            let calendar = calendar.to_ascii_lowercase();
            if !state.calendars.contains_key(&calendar) {
                return Err(EmulatorError::UnknownCalendar(calendar));
            }
            for event in events {
                state.seed_event(&calendar, event)?;
            }
        }
        Ok(state)
    }

    /// A calendar for a user, or for a room (`room` = its capacity, if known).
    fn add_calendar(
        &mut self,
        id: &str,
        summary: &str,
        time_zone: &str,
        room: Option<Option<u32>>,
    ) {
        let resource_id = format!("emu-{}", self.random_id(20));
        self.calendars.insert(
            id.to_string(),
            Calendar {
                summary: summary.to_string(),
                time_zone: time_zone.to_string(),
                room: room.is_some(),
                capacity: room.flatten(),
                epoch: 1,
                resource_id,
                acl: BTreeMap::new(),
                events: BTreeMap::new(),
            },
        );
    }

    /// The emulator's clock: real time plus what tests moved it by.
    pub fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        now.checked_add(jiff::SignedDuration::from_secs(self.clock_offset))
            .unwrap_or(now)
    }

    /// The next change sequence number.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Repeatable pseudo-random numbers (splitmix64) for ids and fault dice.
    pub fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A fraction in [0, 1).
    pub fn dice(&mut self) -> f64 {
        (self.random() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `len` characters of base32hex (`0-9a-v`), the alphabet of Google event ids.
    pub fn random_id(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
        let mut id = String::with_capacity(len);
        let mut bits = 0u64;
        let mut left = 0;
        for _ in 0..len {
            if left < 5 {
                bits = self.random();
                left = 64;
            }
            id.push(ALPHABET[(bits & 31) as usize] as char);
            bits >>= 5;
            left -= 5;
        }
        id
    }

    /// Issue a bearer token (Google's `ya29.` shape) bound to `user` and `scopes`.
    pub(crate) fn issue_access_token(
        &mut self,
        user: String,
        scopes: BTreeSet<String>,
        expires_at: Timestamp,
    ) -> String {
        let access_token = format!("ya29.emu-{}", self.random_id(40));
        self.tokens.insert(
            access_token.clone(),
            AccessToken {
                user,
                scopes,
                expires_at,
            },
        );
        access_token
    }

    /// A Google key file for the emulated service account.
    pub fn key_file(&self, token_uri: &str) -> Result<Value, EmulatorError> {
        let account = &self.service_account;
        let private_key = account
            .private_key_pem
            .clone()
            .ok_or(EmulatorError::NoPrivateKey)?;
        Ok(json!({
            "type": "service_account",
            "project_id": account.project_id,
            "private_key_id": account.private_key_id,
            "private_key": private_key,
            "client_email": account.client_email,
            "client_id": account.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{}",
                account.client_email.replace('@', "%40")
            ),
            "universe_domain": "googleapis.com",
        }))
    }

    /// Resolve `primary` to the caller's calendar, lower-case the rest.
    pub fn calendar_id(&self, id: &str, user: &str) -> String {
        if id == "primary" {
            user.to_string()
        } else {
            id.to_ascii_lowercase()
        }
    }

    /// What `user` may do with `calendar_id`: owner of their own calendar,
    /// admins own room calendars, otherwise the best matching ACL rule.
    pub fn role(&self, calendar_id: &str, user: &str) -> Role {
        let Some(calendar) = self.calendars.get(calendar_id) else {
            return Role::None;
        };
        if calendar_id == user {
            return Role::Owner;
        }
        if calendar.room && self.users.get(user).is_some_and(|u| u.admin) {
            return Role::Owner;
        }
        let user_domain = user.rsplit('@').next().unwrap_or("");
        calendar
            .acl
            .values()
            .filter(|rule| {
                let value = rule["scope"]["value"].as_str().unwrap_or("");
                match rule["scope"]["type"].as_str() {
                    Some("user") | Some("group") => value.eq_ignore_ascii_case(user),
                    Some("domain") => value.eq_ignore_ascii_case(user_domain),
                    Some("default") => true,
                    _ => false,
                }
            })
            .filter_map(|rule| rule["role"].as_str().and_then(Role::parse))
            .max()
            .unwrap_or(Role::None)
    }

    /// The caller's access to a calendar, or Google's answer when it falls
    /// short: `404 notFound` when they cannot even see it, `403` when they
    /// can see it but not do this.
    pub fn require(&self, calendar_id: &str, user: &str, needed: Role) -> Result<Role, ApiError> {
        let role = self.role(calendar_id, user);
        if role >= needed {
            Ok(role)
        } else if role == Role::None {
            Err(ApiError::not_found())
        } else {
            Err(ApiError::new(
                403,
                "requiredAccessLevel",
                "You need to have writer access to this calendar.",
            ))
        }
    }

    /// `acl.insert`: returns the rule resource.
    pub fn insert_acl(&mut self, calendar_id: &str, body: &Value) -> Result<Value, ApiError> {
        let role = body["role"]
            .as_str()
            .ok_or_else(|| ApiError::required("Missing role."))?;
        if Role::parse(role).is_none() {
            return Err(ApiError::invalid(format!("Invalid role value: {role:?}.")));
        }
        let kind = body["scope"]["type"]
            .as_str()
            .ok_or_else(|| ApiError::required("Missing scope type."))?;
        let value = body["scope"]["value"].as_str().map(str::to_ascii_lowercase);
        let id = match (kind, &value) {
            ("default", _) => "default".to_string(),
            ("user" | "group" | "domain", Some(value)) => format!("{kind}:{value}"),
            ("user" | "group" | "domain", None) => {
                return Err(ApiError::required("Missing scope value."));
            }
            _ => return Err(ApiError::invalid(format!("Invalid scope type: {kind:?}."))),
        };
        let seq = self.next_seq();
        let calendar = self
            .calendars
            .get_mut(calendar_id)
            .ok_or_else(ApiError::not_found)?;
        let mut scope = json!({ "type": kind });
        if let Some(value) = value {
            scope["value"] = Value::String(value);
        }
        let rule = json!({
            "kind": "calendar#aclRule",
            "etag": format!("\"{}\"", 3_180_000_000_000_000u64 + seq),
            "id": id,
            "scope": scope,
            "role": role,
        });
        calendar.acl.insert(id, rule.clone());
        Ok(rule)
    }

    /// Make the sync tokens of one calendar (or all) answer `410`.
    pub fn expire_sync_tokens(&mut self, calendar_id: Option<&str>) {
        for (id, calendar) in self.calendars.iter_mut() {
            if calendar_id.is_none_or(|wanted| wanted.eq_ignore_ascii_case(id)) {
                calendar.epoch += 1;
            }
        }
    }
}
