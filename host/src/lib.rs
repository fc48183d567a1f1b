//! hcal, the host: runs the event-processing core component in wasmtime and
//! does everything the core must not (I/O, clocks, configuration).
//!
//! - [`runtime`]: the engine, the cached precompiled component, a pool of
//!   instances, and the bounds every call runs under.
//! - [`config`]: the `hcal.toml` file.
//! - [`render`]: the human-readable agenda the demo prints.

pub mod config;
pub mod render;
pub mod runtime;
