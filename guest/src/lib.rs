//! hcal's event-processing core.
//!
//! Google Calendar event JSON goes in; a user's meeting list (recurring series
//! expanded), join links, keyword enrichments and sealed fields come out. The
//! core is pure and deterministic: it has no clock (`now` is an argument), does
//! no I/O, and draws randomness only for the IVs of sealed values.
//!
//! The same code builds two ways:
//! - as a WASI 0.2 component (`wasm32-wasip2`), exporting the WIT world in
//!   `wit/core.wit` (the export is `src/component.rs`);
//! - as a native Rust library, for the benchmarks and the Google emulator.
//!
//! Without the `engine` feature only [`model`], the serde shape of the output,
//! is compiled: that is all a host needs.
//!
//! ```
//! # #[cfg(feature = "engine")] {
//! use hcal_core::model::{ProcessRequest, Window};
//! let page = r#"{"items":[{"id":"e1","summary":"Standup","location":"@webex",
//!   "start":{"dateTime":"2026-12-01T09:00:00Z"},"end":{"dateTime":"2026-12-01T09:15:00Z"},
//!   "description":"https://acme.webex.com/meet/alice"}]}"#;
//! let request = ProcessRequest {
//!     user: "alice@example.com".into(),
//!     window: Window { from: "2026-12-01T00:00:00Z".into(), to: "2026-12-02T00:00:00Z".into() },
//!     now: "2026-11-30T00:00:00Z".into(),
//!     options: Default::default(), profiles: vec![], provided: vec![], locale: None, seal_with: None,
//! };
//! let list = hcal_core::process(&[page], &request).unwrap();
//! assert_eq!(list.meetings[0].join.as_ref().unwrap().service, "webex");
//! assert_eq!(list.meetings[0].keyword.as_deref(), Some("@webex"));
//! # }
//! ```

pub mod model;

// The component's allocator, not the model's: a component that uses only
// `model` (the gateway) keeps its own.
#[cfg(any(all(target_arch = "wasm32", feature = "engine"), test))]
mod allocator;
#[cfg(all(target_arch = "wasm32", feature = "engine"))]
#[global_allocator]
static ALLOCATOR: allocator::SizeClasses = allocator::SizeClasses::new();

#[cfg(feature = "engine")]
pub mod base64url;
#[cfg(feature = "engine")]
mod bytes;
#[cfg(feature = "engine")]
pub mod enrich;
#[cfg(feature = "engine")]
pub mod error;
#[cfg(feature = "engine")]
pub mod event;
#[cfg(feature = "engine")]
pub mod html;
#[cfg(feature = "engine")]
pub mod keyword;
#[cfg(feature = "engine")]
pub mod links;
#[cfg(feature = "engine")]
pub mod meeting_list;
#[cfg(feature = "engine")]
pub mod recurrence;
#[cfg(feature = "engine")]
pub mod seal;
#[cfg(feature = "engine")]
pub mod time;

#[cfg(all(target_arch = "wasm32", feature = "engine"))]
mod component;

#[cfg(feature = "engine")]
pub use error::CoreError;
#[cfg(feature = "engine")]
pub use meeting_list::{expand_recurrence, process};

/// The WIT contract version this crate implements.
pub const CONTRACT_VERSION: &str = "0.5.0";
