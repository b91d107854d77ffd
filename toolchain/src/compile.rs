//! The front end: one C translation unit to canonical bitcode with clang-19, against the xisa
//! sysroot, unoptimised (the whole program is optimised once at link time).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Result, ToolchainError};
use crate::ir::checks;
use crate::ir::llvm::Context;
use crate::sysroot::Sysroot;
use crate::tools;

/// Macros every xisa translation unit sees: a Linux system, no ISA, no wasm.
const DEFINES: &[&str] = &[
    "-D__linux__=1",
    "-D__linux=1",
    "-Dlinux=1",
    "-D__gnu_linux__=1",
    "-D__unix__=1",
    "-D__unix=1",
    "-Dunix=1",
    "-D__xisa__=1",
    "-U__wasm",
    "-U__wasm__",
    "-U__wasm64",
    "-U__wasm64__",
    "-U__wasm_multivalue__",
    "-U__wasm_mutable_globals__",
    "-U__wasm_reference_types__",
    "-U__wasm_sign_ext__",
];

/// What the front end does with a translation unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontendAction {
    /// `-c`: a bitcode object.
    Object,
    /// `-S`: textual IR.
    Assembly,
    /// `-E`: preprocessed source.
    Preprocess,
}

pub struct Frontend<'a> {
    pub sysroot: &'a Sysroot,
    /// Flags passed through to clang (-I, -D, -std, -W, -f, -g, -M*, ...).
    pub user_flags: &'a [String],
    /// `-O` flag for clang's IR generation (`-O2`, `-Os`, `-Oz`).
    pub size_flag: Option<&'a str>,
    pub use_sysroot_headers: bool,
    pub verbose: bool,
}

impl Frontend<'_> {
    pub fn command(&self, action: FrontendAction, source: &Path, output: Option<&Path>) -> Command {
        let mut command = Command::new(tools::clang());
        command
            .arg("--target=wasm64-unknown-unknown")
            .arg("-nostdinc");
        if self.use_sysroot_headers {
            command.arg("-isystem").arg(self.sysroot.include_dir());
        }
        command
            .arg("-idirafter")
            .arg(tools::clang_resource_include());
        command.args(DEFINES);
        command.arg("-ffp-contract=off").arg("-fno-exceptions");
        command.args(self.user_flags);
        match action {
            FrontendAction::Preprocess => {
                command.arg("-E");
            }
            FrontendAction::Object | FrontendAction::Assembly => {
                command
                    .arg(self.size_flag.unwrap_or("-O2"))
                    .args(["-Xclang", "-disable-llvm-passes"]);
                command.arg("-emit-llvm");
                command.arg(if action == FrontendAction::Object {
                    "-c"
                } else {
                    "-S"
                });
            }
        }
        // The driver took this input as C (`-x c`, or a name clang would not recognise such
        // as `/dev/null`); say so, since clang decides by the extension.
        if !source
            .extension()
            .is_some_and(|e| e == "c" || e == "i" || e == "h")
        {
            command.args(["-x", "c"]);
        }
        command.arg(source);
        if let Some(output) = output {
            command.arg("-o").arg(output);
        }
        command
    }

    /// Compiles `source` to a bitcode object at `output`, then checks it for constructs that
    /// cannot be neutral. Clang's diagnostics reach the user's stderr unchanged.
    pub fn compile(&self, source: &Path, output: &Path) -> Result<()> {
        // An output that is not a regular file (`-o /dev/null` in a build system's probe)
        // cannot be read back: compile to a temporary file and copy the object there.
        let special = std::fs::metadata(output).is_ok_and(|m| !m.is_file());
        if special {
            let scratch = tempfile::Builder::new()
                .prefix("xisa-cc-")
                .suffix(".o")
                .tempfile()
                .map_err(|e| ToolchainError::io("creating a temporary object", e))?;
            self.compile(source, scratch.path())?;
            let bytes = std::fs::read(scratch.path())
                .map_err(|e| ToolchainError::io("reading the temporary object", e))?;
            return std::fs::write(output, bytes)
                .map_err(|e| ToolchainError::io(format!("writing {}", output.display()), e));
        }
        let mut command = self.command(FrontendAction::Object, source, Some(output));
        if self.verbose {
            eprintln!("{}", describe(&command));
        }
        let status = command
            .status()
            .map_err(|source| ToolchainError::ToolMissing {
                tool: tools::clang().display().to_string(),
                source,
            })?;
        if !status.success() {
            return Err(ToolchainError::Frontend);
        }
        let context = Context::new();
        let module = context
            .parse_bitcode_file(output)
            .map_err(ToolchainError::Llvm)?;
        let problems = checks::find_unsupported(&module, &source.display().to_string());
        if !problems.is_empty() {
            let _ = std::fs::remove_file(output);
            return Err(ToolchainError::Unsupported { items: problems });
        }
        Ok(())
    }

    /// Runs clang for an action whose output is not an object (`-E`, `-S`, `-M`).
    pub fn passthrough(
        &self,
        action: FrontendAction,
        source: &Path,
        output: Option<&Path>,
    ) -> Result<()> {
        let mut command = self.command(action, source, output);
        if self.verbose {
            eprintln!("{}", describe(&command));
        }
        let status = command
            .status()
            .map_err(|source| ToolchainError::ToolMissing {
                tool: tools::clang().display().to_string(),
                source,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(ToolchainError::Frontend)
        }
    }
}

pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Default object name for a source: `dir/name.c` → `name.o` in the current directory.
pub fn default_object(source: &Path) -> PathBuf {
    let stem = source.file_stem().unwrap_or_default();
    PathBuf::from(stem).with_extension("o")
}
