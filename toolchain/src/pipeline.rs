//! Runs an `xisa-cc` invocation: front end per source, then the whole-program link into one
//! multi-target image.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use xisa_format::abi::ABI_VERSION;
use xisa_format::image::{self, Manifest, PROGRAM_ELF, PROGRAM_WASM, TargetProgram};
use xisa_format::target::Target;

use crate::compile::{Frontend, FrontendAction, default_object};
use crate::driver::{Input, Invocation, LIBC_PARTS, Mode, Query};
use crate::error::{Result, ToolchainError};
use crate::ir::llvm::Context;
use crate::ir::{self, OptLevel, libcalls};
use crate::link::Linker;
use crate::sysroot::Sysroot;
use crate::{codegen, verify};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What happened, for `-v` and for callers that report timings.
#[derive(Debug, Default)]
pub struct LinkReport {
    pub phases: Vec<(&'static str, Duration)>,
    pub image_size: u64,
}

pub fn run(invocation: &Invocation) -> Result<()> {
    if let Some(query) = invocation.query {
        match query {
            Query::Version => {
                println!("xisa-cc {VERSION} (clang 19 front end; targets x86_64, aarch64, wasm64)")
            }
            Query::DumpVersion => println!("{VERSION}"),
            Query::DumpMachine => println!("xisa64-unknown-linux-musl"),
            Query::SearchDirs => {
                let exe = std::env::current_exe().unwrap_or_default();
                let programs = exe.parent().unwrap_or(Path::new("/"));
                print!(
                    "{}",
                    crate::driver::search_dirs(programs, &invocation.library_dirs)
                )
            }
            Query::MultiOsDirectory => println!("."),
        }
        return Ok(());
    }
    if invocation.verbose && !invocation.ignored_linker_options.is_empty() {
        eprintln!(
            "xisa-cc: ignoring linker options that mean nothing for a static image: {}",
            invocation.ignored_linker_options.join(", ")
        );
    }
    let sysroot = Sysroot::locate();
    let frontend = Frontend {
        sysroot: &sysroot,
        user_flags: &invocation.frontend_flags,
        size_flag: invocation.size_flag.as_deref(),
        use_sysroot_headers: !invocation.nostdinc,
        verbose: invocation.verbose,
    };
    if invocation.mode != Mode::Preprocess
        && !invocation.nostdinc
        && !sysroot.include_dir().exists()
    {
        sysroot.libc_index()?;
    }
    let sources: Vec<&PathBuf> = invocation
        .inputs
        .iter()
        .filter_map(|i| {
            if let Input::Source(p) = i {
                Some(p)
            } else {
                None
            }
        })
        .collect();
    for source in &sources {
        if !source.exists() {
            return Err(ToolchainError::Input {
                path: source.to_path_buf(),
                reason: "no such file".into(),
            });
        }
    }
    match invocation.mode {
        Mode::Preprocess => {
            for source in sources {
                frontend.passthrough(
                    FrontendAction::Preprocess,
                    source,
                    invocation.output.as_deref(),
                )?;
            }
            Ok(())
        }
        Mode::Assembly => {
            for source in sources {
                let output = invocation
                    .output
                    .clone()
                    .unwrap_or_else(|| default_object(source).with_extension("s"));
                frontend.passthrough(FrontendAction::Assembly, source, Some(&output))?;
            }
            Ok(())
        }
        Mode::Compile => {
            for source in sources {
                let output = invocation
                    .output
                    .clone()
                    .unwrap_or_else(|| default_object(source));
                frontend.compile(source, &output)?;
            }
            Ok(())
        }
        Mode::Link => {
            let temp = tempfile::tempdir()
                .map_err(|e| ToolchainError::io("creating a temporary folder", e))?;
            let mut link_inputs = Vec::new();
            for (n, input) in invocation.inputs.iter().enumerate() {
                match input {
                    Input::Source(source) => {
                        let object = temp
                            .path()
                            .join(format!("{n}-{}", default_object(source).display()));
                        frontend.compile(source, &object)?;
                        link_inputs.push(LinkInput::Object(object));
                    }
                    Input::Object(path) => link_inputs.push(LinkInput::Object(path.clone())),
                    Input::Archive(path) => link_inputs.push(LinkInput::Archive(path.clone())),
                    Input::Library(name) if LIBC_PARTS.contains(&name.as_str()) => {}
                    Input::Library(name) => link_inputs.push(LinkInput::Archive(find_library(
                        name,
                        &invocation.library_dirs,
                    )?)),
                }
            }
            let output = invocation
                .output
                .clone()
                .unwrap_or_else(|| PathBuf::from("a.out"));
            if invocation.shared {
                return write_bitcode_library(&link_inputs, &output);
            }
            let request = LinkRequest {
                inputs: link_inputs,
                output,
                opt: invocation.opt,
                nostdlib: invocation.nostdlib,
                undefined: invocation.undefined.clone(),
                verbose: invocation.verbose,
                targets: invocation.targets.clone(),
                migration_points: invocation.migration_points,
            };
            let report = link(&request, &sysroot)?;
            if invocation.verbose {
                for (phase, time) in &report.phases {
                    eprintln!("xisa-cc: {phase}: {:.3} s", time.as_secs_f64());
                }
            }
            Ok(())
        }
    }
}

/// `-shared`: an xisa image is one static program, so a shared library becomes an indexed
/// archive of its bitcode objects that later links statically (as `libfoo.so` or `-lfoo`).
fn write_bitcode_library(inputs: &[LinkInput], output: &Path) -> Result<()> {
    eprintln!(
        "xisa-cc: warning: -shared: {} is a bitcode library that links statically into images",
        output.display()
    );
    let temp =
        tempfile::tempdir().map_err(|e| ToolchainError::io("creating a temporary folder", e))?;
    let staged = temp.path().join("library.a");
    let mut command = std::process::Command::new(crate::tools::llvm_ar());
    command.arg("rcs").arg(&staged);
    for input in inputs {
        match input {
            LinkInput::Object(path) => {
                command.arg(path);
            }
            // Libraries a shared library depends on are linked when the program is.
            LinkInput::Archive(_) => {}
        }
    }
    crate::tools::run(&mut command)?;
    std::fs::copy(&staged, output).map_err(|e| {
        ToolchainError::io(
            format!("writing the bitcode library {}", output.display()),
            e,
        )
    })?;
    Ok(())
}

fn find_library(name: &str, dirs: &[PathBuf]) -> Result<PathBuf> {
    for dir in dirs {
        for candidate in [
            dir.join(format!("lib{name}.so")),
            dir.join(format!("lib{name}.a")),
        ] {
            if candidate.exists() {
                return Ok(candidate);
            }
        }
    }
    Err(ToolchainError::Flag {
        flag: format!("-l{name}"),
        reason: format!(
            "cannot find lib{name}.so or lib{name}.a in {}; build the library with xisa-cc and add its folder with -L",
            if dirs.is_empty() {
                "any -L folder (none given)".to_string()
            } else {
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    })
}

#[derive(Clone, Debug)]
pub enum LinkInput {
    Object(PathBuf),
    Archive(PathBuf),
}

#[derive(Clone, Debug)]
pub struct LinkRequest {
    pub inputs: Vec<LinkInput>,
    pub output: PathBuf,
    pub opt: OptLevel,
    pub nostdlib: bool,
    pub undefined: Vec<String>,
    pub verbose: bool,
    /// Targets to build, in image order.
    pub targets: Vec<Target>,
    pub migration_points: ir::migration::MigrationPoints,
}

/// How often the optimiser may ask for more library code before we give up.
const MAX_LIBRARY_ROUNDS: usize = 4;

pub fn link(request: &LinkRequest, sysroot: &Sysroot) -> Result<LinkReport> {
    let mut report = LinkReport::default();
    let mut clock = Instant::now();
    let mut phase = |report: &mut LinkReport, name: &'static str| {
        report.phases.push((name, clock.elapsed()));
        clock = Instant::now();
    };
    let context = Context::new();
    let mut linker = Linker::new(&context);
    for input in &request.inputs {
        match input {
            LinkInput::Object(path) => linker.add_object(path)?,
            LinkInput::Archive(path) => linker.add_archive(path)?,
        }
    }
    if !request.nostdlib {
        let index = sysroot.libc_index()?;
        linker.add_library_object(&sysroot.start_bitcode())?;
        linker.add_libc(sysroot, &index);
    }
    if !linker.has_module() {
        return Err(ToolchainError::Flag {
            flag: "xisa-cc".into(),
            reason: "nothing to link".into(),
        });
    }
    linker.pull(&request.undefined)?;
    linker.pull(&libcalls::ALWAYS.map(String::from))?;
    linker.resolve()?;
    let wanted = libcalls::codegen_libcalls(linker.module());
    linker.pull(&wanted)?;
    linker.resolve()?;
    phase(&mut report, "link bitcode");

    ir::prepare(linker.module())?;
    let mut optimised = false;
    for _ in 0..MAX_LIBRARY_ROUNDS {
        let module = linker.module();
        ir::resolve_and_internalise(module)?;
        ir::optimise(
            module,
            request.opt,
            request.migration_points != ir::migration::MigrationPoints::None,
        )?;
        optimised = true;
        let mut needed = libcalls::new_declarations(module, ir::symbols::is_runtime_import);
        needed.extend(libcalls::codegen_libcalls(module));
        let defined_before = libcalls::defined(module, &needed).len();
        let pulled = linker.pull(&needed)?;
        if pulled {
            linker.resolve()?;
        }
        if !pulled || libcalls::defined(linker.module(), &needed).len() == defined_before {
            break;
        }
    }
    debug_assert!(optimised);
    ir::resolve_and_internalise(linker.module())?;
    phase(&mut report, "optimise");

    let program = ir::neutralise(linker.module(), request.migration_points)?;
    phase(&mut report, "neutralise");

    let results: Vec<(Target, Result<Vec<u8>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = request
            .targets
            .iter()
            .map(|target| {
                let program = &program;
                (
                    *target,
                    scope.spawn(move || codegen::generate(*target, program, sysroot)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(target, handle)| {
                (
                    target,
                    handle.join().unwrap_or_else(|_| {
                        Err(ToolchainError::Llvm(format!(
                            "{target} code generation crashed"
                        )))
                    }),
                )
            })
            .collect()
    });
    let mut programs = Vec::new();
    for (target, result) in results {
        programs.push((target, result?));
    }
    phase(&mut report, "generate code");

    let manifest = manifest(&program, &programs, request.opt)?;
    let (first_target, first_program) = &programs[0];
    let neutral = verify::neutral_data(&manifest, *first_target, first_program)
        .map_err(|e| ToolchainError::Layout(format!("cannot read the new image's data: {e}")))?;
    let bytes = image::write_image(&manifest, &neutral, &programs);
    let image = image::Image::from_bytes(bytes.clone())
        .map_err(|e| ToolchainError::Llvm(format!("the new image is invalid: {e}")))?;
    verify::verify(&image)
        .map_err(|e| ToolchainError::Layout(format!("the new image fails verification: {e}")))?;
    write_executable(&request.output, &bytes)?;
    report.image_size = bytes.len() as u64;
    phase(&mut report, "package and verify");
    Ok(report)
}

fn manifest(
    program: &ir::NeutralProgram,
    programs: &[(Target, Vec<u8>)],
    opt: OptLevel,
) -> Result<Manifest> {
    let layout = program.placement.layout;
    let mut targets = Vec::new();
    for (target, bytes) in programs {
        let program_record = match target {
            Target::Wasm64 => TargetProgram {
                target: target.id(),
                format: PROGRAM_WASM,
                entry: 0,
                entry_return: 0,
                call_sites: Vec::new(),
            },
            _ => {
                let facts = codegen::elf::native_facts(*target, bytes)
                    .map_err(|e| ToolchainError::Layout(format!("{target}: {e}")))?;
                TargetProgram {
                    target: target.id(),
                    format: PROGRAM_ELF,
                    entry: facts.entry,
                    entry_return: facts.entry_return,
                    call_sites: facts.call_sites,
                }
            }
        };
        targets.push(program_record);
    }
    Ok(Manifest {
        abi_version: ABI_VERSION,
        producer: format!("xisa-cc {VERSION}"),
        opt_level: format!("{opt:?}"),
        rodata_size: layout.rodata_size,
        data_size: layout.data_size,
        bss_size: layout.bss_size,
        symbols: program
            .placement
            .symbols
            .iter()
            .map(|s| image::NeutralSymbol {
                name: s.name.clone(),
                region: s.region as u8,
                address: s.address,
                size: s.size,
            })
            .collect(),
        functions: program.functions.names.clone(),
        targets,
        call_sites: program
            .call_sites
            .iter()
            .map(|c| image::CallSiteInfo {
                id: c.id,
                function: c.function.clone(),
                record_size: c.record_size,
            })
            .collect(),
        native_state: Vec::new(),
    })
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<()> {
    xisa_format::output::write_whole(path, bytes, true)
        .map_err(|e| ToolchainError::io(format!("writing {}", path.display()), e))
}
