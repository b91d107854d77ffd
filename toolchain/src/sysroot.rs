//! The xisa sysroot: musl headers, libc bitcode members with their symbol index, and the
//! runtime pieces. Built once by `xisa build-libc` (see `libc_build`), found at run time.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, ToolchainError};
use crate::link::symbols::ModuleSymbols;
use xisa_format::target::Target;

pub const SYSROOT_ENV: &str = "XISA_SYSROOT";

#[derive(Clone, Debug)]
pub struct Sysroot {
    root: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LibcMember {
    pub file: String,
    pub symbols: ModuleSymbols,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LibcIndex {
    /// Cache key of the build that produced the members.
    pub key: String,
    pub members: Vec<LibcMember>,
}

impl Sysroot {
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Sysroot { root: root.into() }
    }

    /// `$XISA_SYSROOT`, else `xisa-sysroot` beside the directory holding the running binary
    /// (so `target/release/xisa` uses `target/xisa-sysroot`).
    pub fn locate() -> Sysroot {
        if let Some(root) = std::env::var_os(SYSROOT_ENV) {
            return Sysroot::at(root);
        }
        let exe = std::env::current_exe().unwrap_or_default();
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."));
        Sysroot::at(dir.join("xisa-sysroot"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn include_dir(&self) -> PathBuf {
        self.root.join("include")
    }
    pub fn libc_dir(&self) -> PathBuf {
        self.root.join("lib/libc")
    }
    pub fn libc_member(&self, file: &str) -> PathBuf {
        self.libc_dir().join(file)
    }
    pub fn index_path(&self) -> PathBuf {
        self.root.join("lib/libc.index.json")
    }
    pub fn start_bitcode(&self) -> PathBuf {
        self.root.join("lib/start.bc")
    }
    pub fn runtime_dir(&self, target: Target) -> PathBuf {
        self.root.join(format!("lib/{target}"))
    }

    /// The target's runtime objects (entry stub, process-mode layer, helpers), linked into
    /// every program of that target.
    pub fn runtime_objects(&self, target: Target) -> Vec<PathBuf> {
        let mut objects: Vec<PathBuf> = std::fs::read_dir(self.runtime_dir(target))
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        objects.retain(|p| p.extension().is_some_and(|e| e == "o"));
        objects.sort();
        objects
    }

    /// Loads the libc index, explaining how to build the sysroot if it is missing.
    pub fn libc_index(&self) -> Result<LibcIndex> {
        let path = self.index_path();
        let text = std::fs::read_to_string(&path).map_err(|_| ToolchainError::Sysroot {
            path: self.root.clone(),
            hint: format!(
                "run the set-up script (scripts/setup) or `xisa build-libc --musl-src DIR`, or point {SYSROOT_ENV} at a built sysroot"
            ),
        })?;
        serde_json::from_str(&text).map_err(|e| ToolchainError::Input {
            path,
            reason: format!("corrupt libc index ({e}); rebuild it with `xisa build-libc`"),
        })
    }
}
