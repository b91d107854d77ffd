//! Whole-program linking of bitcode: objects always, archive members and libc members when
//! they define something still undefined (in any order, like lld), all into one IR module.

pub mod archive;
pub mod symbols;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Result, ToolchainError};
use crate::ir::checks;
use crate::ir::llvm::{Context, Module};
use crate::sysroot::{LibcIndex, Sysroot};
use crate::target::NEUTRAL_DATA_LAYOUT;
use symbols::{ModuleSymbols, module_symbols};

/// One member that can be pulled in on demand.
struct Lazy {
    origin: String,
    bytes: Option<Vec<u8>>,
    path: Option<PathBuf>,
    symbols: ModuleSymbols,
}

pub struct Linker<'c> {
    context: &'c Context,
    module: Option<Module<'c>>,
    defined: HashSet<String>,
    strong: HashSet<String>,
    undefined: BTreeSet<String>,
    lazy: Vec<Lazy>,
    providers: HashMap<String, Vec<usize>>,
    loaded: HashSet<usize>,
}

impl<'c> Linker<'c> {
    pub fn new(context: &'c Context) -> Self {
        Linker {
            context,
            module: None,
            defined: HashSet::new(),
            strong: HashSet::new(),
            undefined: BTreeSet::new(),
            lazy: Vec::new(),
            providers: HashMap::new(),
            loaded: HashSet::new(),
        }
    }

    /// Adds an object file: always linked.
    pub fn add_object(&mut self, path: &Path) -> Result<()> {
        let bytes = read_bitcode(path)?;
        self.add_module_bytes(&bytes, &path.display().to_string())
    }

    /// Adds a runtime object that is not the application's (no migration points in it).
    pub fn add_library_object(&mut self, path: &Path) -> Result<()> {
        let bytes = read_bitcode(path)?;
        let origin = path.display().to_string();
        let module = self
            .context
            .parse_bitcode(&bytes, &origin)
            .map_err(|reason| ToolchainError::Input {
                path: origin.clone().into(),
                reason,
            })?;
        mark_library(&module);
        self.merge(module, &origin)
    }

    /// Adds a bitcode module given as bytes: always linked.
    pub fn add_module_bytes(&mut self, bytes: &[u8], origin: &str) -> Result<()> {
        let module = self
            .context
            .parse_bitcode(bytes, origin)
            .map_err(|reason| ToolchainError::Input {
                path: origin.into(),
                reason,
            })?;
        self.merge(module, origin)
    }

    /// Adds an archive: its members are linked when they resolve an undefined symbol.
    pub fn add_archive(&mut self, path: &Path) -> Result<()> {
        for member in archive::bitcode_members(path)? {
            let module = self
                .context
                .parse_bitcode(&member.bytes, &member.origin)
                .map_err(|reason| ToolchainError::Input {
                    path: path.into(),
                    reason,
                })?;
            let symbols = module_symbols(&module);
            drop(module);
            self.add_lazy(Lazy {
                origin: member.origin,
                bytes: Some(member.bytes),
                path: None,
                symbols,
            });
        }
        Ok(())
    }

    /// Adds the libc members, described by the sysroot's index.
    pub fn add_libc(&mut self, sysroot: &Sysroot, index: &LibcIndex) {
        for member in &index.members {
            self.add_lazy(Lazy {
                origin: format!("libc({})", member.file),
                bytes: None,
                path: Some(sysroot.libc_member(&member.file)),
                symbols: member.symbols.clone(),
            });
        }
    }

    fn add_lazy(&mut self, lazy: Lazy) {
        let slot = self.lazy.len();
        for name in &lazy.symbols.defines {
            self.providers.entry(name.clone()).or_default().push(slot);
        }
        self.lazy.push(lazy);
    }

    fn merge(&mut self, mut module: Module<'c>, origin: &str) -> Result<()> {
        let unsupported = checks::find_unsupported(&module, &module.source_name());
        if !unsupported.is_empty() {
            return Err(ToolchainError::Unsupported { items: unsupported });
        }
        module.set_data_layout(NEUTRAL_DATA_LAYOUT);
        let symbols = module_symbols(&module);
        for name in &symbols.defines {
            let weak = symbols.weak.contains(name);
            if !weak && !self.strong.insert(name.clone()) {
                return Err(ToolchainError::Input {
                    path: origin.into(),
                    reason: format!("duplicate definition of `{name}`"),
                });
            }
            self.defined.insert(name.clone());
            self.undefined.remove(name);
        }
        for name in symbols.undefined {
            if !self.defined.contains(&name) {
                self.undefined.insert(name);
            }
        }
        match &mut self.module {
            None => self.module = Some(module),
            Some(whole) => whole.link(module).map_err(|reason| ToolchainError::Input {
                path: origin.into(),
                reason: format!("cannot be linked: {reason}"),
            })?,
        }
        Ok(())
    }

    /// Pulls lazy members for undefined symbols until nothing more resolves.
    pub fn resolve(&mut self) -> Result<()> {
        loop {
            let wanted: Vec<String> = self.undefined.iter().cloned().collect();
            if !self.pull(&wanted)? {
                return Ok(());
            }
        }
    }

    /// Links the members defining `names` (that are not defined yet). Returns whether any
    /// member was linked.
    pub fn pull(&mut self, names: &[String]) -> Result<bool> {
        let mut progress = false;
        for name in names {
            if self.defined.contains(name) {
                continue;
            }
            let Some(slots) = self.providers.get(name) else {
                continue;
            };
            // Prefer a strong definition.
            let slot = slots
                .iter()
                .copied()
                .find(|s| !self.lazy[*s].symbols.weak.contains(name))
                .unwrap_or(slots[0]);
            if !self.loaded.insert(slot) {
                continue;
            }
            let lazy = &self.lazy[slot];
            let origin = lazy.origin.clone();
            let library = lazy.path.is_some();
            let bytes = match (&lazy.bytes, &lazy.path) {
                (Some(bytes), _) => bytes.clone(),
                (None, Some(path)) => std::fs::read(path)
                    .map_err(|e| ToolchainError::io(format!("reading {}", path.display()), e))?,
                (None, None) => continue,
            };
            let module = self
                .context
                .parse_bitcode(&bytes, &origin)
                .map_err(|reason| ToolchainError::Input {
                    path: origin.clone().into(),
                    reason,
                })?;
            if library {
                mark_library(&module);
            }
            self.merge(module, &origin)?;
            progress = true;
        }
        Ok(progress)
    }

    pub fn module(&mut self) -> &mut Module<'c> {
        self.module.as_mut().expect("at least one module was added")
    }

    pub fn has_module(&self) -> bool {
        self.module.is_some()
    }
}

/// Marks every function of `module` as library code: migration points go only into the
/// application's own functions.
fn mark_library(module: &Module) {
    let context = module.context();
    for function in module.functions() {
        if !function.is_declaration() {
            function.add_attribute(
                context.const_string_attribute(crate::ir::migration::LIBRARY_ATTRIBUTE, ""),
            );
        }
    }
}

/// Reads a file that must hold LLVM bitcode, with a precise error otherwise.
pub fn read_bitcode(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .map_err(|e| ToolchainError::io(format!("reading {}", path.display()), e))?;
    match classify(&bytes) {
        FileKind::Bitcode => Ok(bytes),
        other => Err(ToolchainError::Input {
            path: path.into(),
            reason: other.describe(),
        }),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum FileKind {
    Bitcode,
    Archive,
    Elf(&'static str),
    Wasm,
    Unknown,
}

impl FileKind {
    pub fn describe(&self) -> String {
        match self {
            FileKind::Bitcode => "xisa bitcode".into(),
            FileKind::Archive => "an archive, where an object was expected".into(),
            FileKind::Elf(arch) => format!(
                "a native {arch} ELF object, not xisa bitcode (was it built by another compiler? rebuild it with xisa-cc)"
            ),
            FileKind::Wasm => {
                "a WebAssembly module, not xisa bitcode (rebuild it with xisa-cc)".into()
            }
            FileKind::Unknown => {
                "not an object file xisa-cc understands (expected LLVM bitcode from xisa-cc)".into()
            }
        }
    }
}

pub fn classify(bytes: &[u8]) -> FileKind {
    if bytes.starts_with(b"BC\xC0\xDE") || bytes.starts_with(&[0xDE, 0xC0, 0x17, 0x0B]) {
        FileKind::Bitcode
    } else if bytes.starts_with(b"!<arch>\n") {
        FileKind::Archive
    } else if bytes.starts_with(b"\x7fELF") {
        let machine = bytes.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]]));
        FileKind::Elf(match machine {
            Some(62) => "x86-64",
            Some(183) => "AArch64",
            Some(3) => "i386",
            Some(40) => "ARM",
            _ => "foreign",
        })
    } else if bytes.starts_with(b"\0asm") {
        FileKind::Wasm
    } else {
        FileKind::Unknown
    }
}
