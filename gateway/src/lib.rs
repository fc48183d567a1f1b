//! hcal's core behind `wasi:http`: the gateway component.
//!
//! It exports `wasi:http/incoming-handler` and imports `hcal:core/processor`;
//! `make gateway` composes it with the unchanged core (`wac plug`) into one
//! `hcal_gateway.wasm` that any WASI HTTP host serves (`wasmtime serve`,
//! `jco serve`). The routes, their errors and the configuration are in
//! `docs/gateway.md`.
//!
//! The modules that do not touch WASI (`query`, `clock`, `config`, `reply`)
//! build natively too, so their tests run with the workspace's.

pub mod clock;
pub mod config;
pub mod query;
pub mod reply;

#[cfg(target_arch = "wasm32")]
mod handler;
