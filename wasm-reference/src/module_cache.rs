//! Compiled wasm64 programs, kept between runs: compiling an image's program takes tens of
//! milliseconds, which every start and every restore (a migration's downtime) would pay again.
//!
//! The cache is a folder of the user's (`$XISA_CACHE_DIR`, else `$XDG_CACHE_HOME/xisa/wasm`,
//! else `~/.cache/xisa/wasm`), one file per program and engine configuration: a BLAKE3 digest
//! of the rest, then Wasmtime's serialized module. A file that is damaged, or that this
//! Wasmtime or configuration cannot load, is compiled again and replaced; a cache that cannot
//! be written only costs the compile.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use wasmtime::{Engine, Module};

const DIGEST: usize = 32;

/// Where compiled programs are kept, if there is a place.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XISA_CACHE_DIR") {
        return Some(PathBuf::from(dir).join("wasm"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("xisa").join("wasm"))
}

/// The file for `wasm` compiled by `engine`.
fn cache_file(engine: &Engine, wasm: &[u8]) -> Option<PathBuf> {
    let mut configuration = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut configuration);
    let program = blake3::hash(wasm).to_hex();
    Some(cache_dir()?.join(format!("{program}-{:016x}.cwasm", configuration.finish())))
}

/// The compiled program: from the cache when it holds a good copy, else compiled (and kept).
pub fn module(engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Module> {
    let file = cache_file(engine, wasm);
    if let Some(bytes) = file.as_ref().and_then(|f| std::fs::read(f).ok())
        && bytes.len() > DIGEST
        && blake3::hash(&bytes[DIGEST..]).as_bytes()[..] == bytes[..DIGEST]
    {
        // SAFETY: the bytes are a module this Wasmtime serialized for an engine with the same
        // compatibility hash (the file name), in the user's own cache folder, and unchanged
        // since (the digest); Wasmtime checks its own header and version before using them.
        if let Ok(module) = unsafe { Module::deserialize(engine, &bytes[DIGEST..]) } {
            return Ok(module);
        }
    }
    let module = Module::new(engine, wasm)?;
    if let Some(file) = file {
        keep(&file, &module);
    }
    Ok(module)
}

/// Writes the compiled module whole (a temporary file renamed into place), or not at all.
fn keep(file: &std::path::Path, module: &Module) {
    let Ok(serialized) = module.serialize() else {
        return;
    };
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let mut bytes = Vec::with_capacity(DIGEST + serialized.len());
    bytes.extend_from_slice(blake3::hash(&serialized).as_bytes());
    bytes.extend_from_slice(&serialized);
    let temporary = file.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&temporary, &bytes).is_ok() && std::fs::rename(&temporary, file).is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_module_is_reused_and_a_damaged_one_replaced() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: tests in this module are the only ones reading this variable.
        unsafe { std::env::set_var("XISA_CACHE_DIR", dir.path()) };
        let engine = Engine::default();
        // The smallest valid module.
        let wasm = b"\0asm\x01\0\0\0".to_vec();
        module(&engine, &wasm).unwrap();
        let file = cache_file(&engine, &wasm).unwrap();
        let first = std::fs::read(&file).expect("the compiled module was kept");
        module(&engine, &wasm).unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            first,
            "reused, not rewritten"
        );
        let mut damaged = first.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        std::fs::write(&file, &damaged).unwrap();
        module(&engine, &wasm).unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            first,
            "a damaged copy is replaced"
        );
    }
}
