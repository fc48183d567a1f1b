//! hcal, the host: runs the event-processing core component in wasmtime and
//! does everything the core must not (I/O, clocks, configuration).
//!
//! - [`runtime`]: the engine, the cached precompiled component, a pool of
//!   instances, and the bounds every call runs under.
//! - [`config`]: the `hcal.toml` file.
//! - [`enrich`]: keyword events get their join details written into Google.
//! - [`google`]: Google I/O: service-account tokens, Calendar v3, Gmail settings.
//! - [`http`]: timeouts, size caps and retries with backoff for outside calls.
//! - [`provider`]: the meeting provider (Webex REST): Personal Rooms, spaces, one-time meetings.
//! - [`serve`]: the service: API, push webhook, sync worker, poll.
//! - [`api`]: the HTTP API, the push webhook, metrics; each route says who may call it.
//! - [`auth`]: who is asking (sessions from Google sign-in, device and service tokens) and what they may do.
//! - [`web`]: the web app (each person's meetings, live) and the admin console.
//! - [`store`]: what the service keeps (SQLite), sensitive fields only sealed.
//! - [`kms`]: org keys wrapped under a master key; rotation keeps old keys.
//! - [`sync`]: a user's calendar window from Google into the store, sealed.
//! - [`users`]: adding, activating, retrying and deactivating users.
//! - [`meetings`]: stored meetings opened for an authorized caller.
//! - [`notify`]: push channels (watch, renew, stop) and checking notifications.
//! - [`presence`]: out of office, focus time and working location from Calendar and the Gmail responder.
//! - [`conformance`]: the fixtures through any component of the contract (`hcal conformance`).
//! - [`render`]: the human-readable agenda the demo prints.

pub mod api;
mod api_input;
pub mod auth;
pub mod config;
pub mod conformance;
pub mod enrich;
pub mod google;
pub mod http;
pub mod join_buttons;
pub mod kms;
pub mod listen;
pub mod logs;
pub mod meetings;
pub mod notify;
pub mod openapi;
pub mod pace;
pub mod presence;
pub mod provider;
pub mod render;
pub mod runtime;
pub mod serve;
pub mod store;
pub mod sync;
pub mod tls;
pub mod users;
pub mod web;
