//! Compile the component once, keep the machine code on disk.
//!
//! The cache key covers the engine's compatibility hash (wasmtime version,
//! target, settings) and the component's bytes, so a new build of either
//! never loads stale code. Files are written to a temporary name and renamed,
//! so concurrent starts never read half a file.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::{LoadError, LoadKind};

fn cache_file(engine: &Engine, wasm: &[u8], dir: &Path) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_key = hasher.finish();
    let digest = ring::digest::digest(&ring::digest::SHA256, wasm);
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    dir.join(format!("hcal-core-{hex}-{engine_key:016x}.cwasm"))
}

/// Load the component at `path`, from `cache_dir` when it is there.
pub(super) fn load(
    engine: &Engine,
    path: &Path,
    cache_dir: Option<&Path>,
) -> Result<(Component, LoadKind), LoadError> {
    let wasm = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::Missing {
            path: path.to_path_buf(),
        },
        _ => LoadError::Read {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let invalid = |e: wasmtime::Error| LoadError::Invalid {
        path: path.to_path_buf(),
        reason: format!("{e:#}"),
    };
    let Some(dir) = cache_dir else {
        return Ok((
            Component::new(engine, &wasm).map_err(invalid)?,
            LoadKind::Compiled,
        ));
    };
    let file = cache_file(engine, &wasm, dir);
    if file.exists() {
        // SAFETY: the file was written by `precompile_component` of an engine
        // with the same compatibility hash (it is in the name), and is only
        // ever replaced by an atomic rename.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &file) } {
            return Ok((component, LoadKind::Cached));
        }
        // Unreadable or corrupt: compile again and replace it.
    }
    let compiled = engine.precompile_component(&wasm).map_err(invalid)?;
    // SAFETY: these bytes come from `precompile_component` on this engine.
    let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(invalid)?;
    if std::fs::create_dir_all(dir).is_ok() {
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &compiled).is_ok() {
            let _ = std::fs::rename(&tmp, &file);
        }
    }
    Ok((component, LoadKind::Compiled))
}
