//! Builds the xisa sysroot from Debian's musl source and our arch port: public headers, one
//! bitcode file per libc source with a symbol index, the neutral start-up code and the native
//! runtime stubs. The result is cached under a key of everything that goes into it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use xisa_format::abi::{
    HYPERCALL_MMIO, HYPERCALL_PORT, XISA_CALL_LONGJMP, XISA_CALL_MIGRATE, process,
};
use xisa_format::memory_map::{SHADOW_STACK, STARTUP, native};
use xisa_format::target::Target;

use crate::error::{Result, ToolchainError};
use crate::ir::llvm::Context;
use crate::link::symbols::module_symbols;
use crate::sysroot::{LibcIndex, LibcMember, Sysroot};
use crate::tools;

/// Version of this builder's output layout; bump to force rebuilds.
const BUILDER_VERSION: &str = "1";

/// musl's own flags (minus `-frounding-math`: rounding modes are not supported, and it would
/// turn every FP operation into a constrained intrinsic), plus ours: no FP contraction, so
/// every target computes bit-identical results.
const LIBC_CFLAGS: &[&str] = &[
    "--target=wasm64-unknown-unknown",
    "-std=c99",
    "-ffreestanding",
    "-nostdinc",
    "-fno-strict-aliasing",
    "-fexcess-precision=standard",
    "-ffp-contract=off",
    "-D_XOPEN_SOURCE=700",
    "-O2",
    "-Xclang",
    "-disable-llvm-passes",
    "-emit-llvm",
    "-c",
    "-w",
];

macro_rules! port_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../libc-arch/", $path)))),*]
    };
}

/// Our musl arch port and source overrides, embedded so the binary can rebuild the sysroot.
const PORT: &[(&str, &str)] = port_files!(
    "arch/xisa/atomic_arch.h",
    "arch/xisa/crt_arch.h",
    "arch/xisa/kstat.h",
    "arch/xisa/pthread_arch.h",
    "arch/xisa/reloc.h",
    "arch/xisa/syscall_arch.h",
    "src/env/__libc_start_main.c",
    "src/math/sqrt.c",
    "src/mman/mmap.c",
    "src/mman/mprotect.c",
    "src/mman/mremap.c",
    "src/mman/munmap.c",
    "src/mman/xisa_mapping_cache.c",
    "src/math/sqrtf.c",
    "src/setjmp/longjmp.c",
    "src/string/explicit_bzero.c",
    "src/thread/__set_thread_area.c",
);

const START_C: &str = include_str!("../rt/start.c");
const RT_X86_64: &str = include_str!("../rt/x86_64.S");
const RT_AARCH64: &str = include_str!("../rt/aarch64.S");
const RT_WASM64: &str = include_str!("../rt/wasm64_fp128_compare.c");
const RT_PROCESS: &str = include_str!("../rt/process.c");

pub struct BuildReport {
    pub members: usize,
    pub up_to_date: bool,
}

/// Progress callback: (done, total).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

pub fn build_sysroot(
    musl_src: &Path,
    sysroot: &Sysroot,
    progress: Progress,
) -> Result<BuildReport> {
    let version = std::fs::read_to_string(musl_src.join("VERSION")).map_err(|e| {
        ToolchainError::io(
            format!("{} is not a musl source tree", musl_src.display()),
            e,
        )
    })?;
    let key = cache_key(version.trim())?;
    if let Ok(index) = sysroot.libc_index()
        && index.key == key
    {
        return Ok(BuildReport {
            members: index.members.len(),
            up_to_date: true,
        });
    }
    let root = sysroot.root();
    let build = root.join("build");
    let _ = std::fs::remove_dir_all(root);
    let io = |what: &str, p: &Path, e| ToolchainError::io(format!("{what} {}", p.display()), e);
    for dir in [
        build.join("arch/bits"),
        build.join("internal"),
        sysroot.include_dir(),
        sysroot.libc_dir(),
    ] {
        std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
    }
    for (path, text) in PORT {
        if let Some(name) = path.strip_prefix("arch/xisa/") {
            write(&build.join("arch").join(name), text)?;
        }
    }
    write(
        &build.join("internal/version.h"),
        &format!("#define VERSION \"{}\"\n", version.trim()),
    )?;
    install_headers(musl_src, &build.join("arch/bits"), &sysroot.include_dir())?;

    let sources = libc_sources(musl_src, &build)?;
    let include_args: Vec<String> = [
        build.join("arch"),
        musl_src.join("arch/generic"),
        build.join("internal"),
        musl_src.join("src/include"),
        musl_src.join("src/internal"),
        musl_src.join("include"),
    ]
    .iter()
    .map(|p| format!("-I{}", p.display()))
    .collect();

    let outputs = compile_all(&sources, &include_args, &sysroot.libc_dir(), progress)?;
    let members = index_members(&outputs)?;

    build_start(sysroot)?;
    for target in Target::ALL {
        build_runtime_stub(sysroot, target)?;
    }
    let count = members.len();
    let index = LibcIndex { key, members };
    let text = serde_json::to_string(&index).expect("index serialises");
    let tmp = sysroot.index_path().with_extension("tmp");
    write(&tmp, &text)?;
    std::fs::rename(&tmp, sysroot.index_path())
        .map_err(|e| io("writing", &sysroot.index_path(), e))?;
    let _ = std::fs::remove_dir_all(&build);
    Ok(BuildReport {
        members: count,
        up_to_date: false,
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ToolchainError::io(format!("creating {}", parent.display()), e))?;
    }
    std::fs::write(path, text)
        .map_err(|e| ToolchainError::io(format!("writing {}", path.display()), e))
}

fn cache_key(musl_version: &str) -> Result<String> {
    let clang_version = tools::run(Command::new(tools::clang()).arg("--version"))?;
    let mut hasher = blake3::Hasher::new();
    for part in [
        BUILDER_VERSION,
        musl_version,
        &String::from_utf8_lossy(&clang_version.stdout),
    ] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    for flag in LIBC_CFLAGS
        .iter()
        .map(|f| f.to_string())
        .chain(runtime_defines())
    {
        hasher.update(flag.as_bytes());
        hasher.update(&[0]);
    }
    let runtime = [
        ("start.c", START_C),
        ("x86_64.S", RT_X86_64),
        ("aarch64.S", RT_AARCH64),
        ("wasm64.c", RT_WASM64),
        ("process.c", RT_PROCESS),
    ];
    for (path, text) in PORT.iter().chain(runtime.iter()) {
        hasher.update(path.as_bytes());
        hasher.update(&[0]);
        hasher.update(text.as_bytes());
        hasher.update(&[0]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Public headers: musl's `include/`, then the generic, riscv64 (our type model: LP64,
/// binary128 long double) and generated `bits/` headers, later ones overriding.
fn install_headers(musl: &Path, build_bits: &Path, include: &Path) -> Result<()> {
    copy_tree(&musl.join("include"), include)?;
    let bits = include.join("bits");
    std::fs::create_dir_all(&bits)
        .map_err(|e| ToolchainError::io(format!("creating {}", bits.display()), e))?;
    for dir in [
        musl.join("arch/generic/bits"),
        musl.join("arch/riscv64/bits"),
    ] {
        for entry in read_dir(&dir)? {
            if entry.extension().is_some_and(|e| e == "h") {
                let name = entry.file_name().expect("file has a name");
                copy(&entry, &bits.join(name))?;
                copy(&entry, &build_bits.join(name))?;
            }
        }
    }
    let sed = |script: &str, inputs: &[PathBuf]| -> Result<String> {
        let out = tools::run(Command::new("sed").arg(script).args(inputs))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let alltypes = {
        let out = tools::run(
            Command::new("sed")
                .arg("-f")
                .arg(musl.join("tools/mkalltypes.sed"))
                .arg(musl.join("arch/riscv64/bits/alltypes.h.in"))
                .arg(musl.join("include/alltypes.h.in")),
        )?;
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let syscall_in = musl.join("arch/riscv64/bits/syscall.h.in");
    let mut syscall = std::fs::read_to_string(&syscall_in)
        .map_err(|e| ToolchainError::io(format!("reading {}", syscall_in.display()), e))?;
    syscall.push_str(
        &sed("s/__NR_/SYS_/p", &[syscall_in])?
            .lines()
            .collect::<Vec<_>>()
            .join("\n"),
    );
    syscall.push('\n');
    for dir in [&bits, &build_bits.to_path_buf()] {
        write(&dir.join("alltypes.h"), &alltypes)?;
        write(&dir.join("syscall.h"), &syscall)?;
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ToolchainError::io(format!("reading {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| {
        ToolchainError::io(format!("copying {} to {}", from.display(), to.display()), e)
    })
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)
        .map_err(|e| ToolchainError::io(format!("creating {}", to.display()), e))?;
    for entry in read_dir(from)? {
        let target = to.join(entry.file_name().expect("entry has a name"));
        if entry.is_dir() {
            copy_tree(&entry, &target)?;
        } else if entry.extension().is_none_or(|e| e != "in") {
            copy(&entry, &target)?;
        }
    }
    Ok(())
}

/// musl's source list (`src/*/*.c` and `src/malloc/mallocng/*.c`; arch subfolders and the old
/// malloc left out), with our port's files replacing or adding to it. Returns (output name,
/// source path) pairs.
fn libc_sources(musl: &Path, build: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut sources: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut dirs: Vec<PathBuf> = read_dir(&musl.join("src"))?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    dirs.push(musl.join("src/malloc/mallocng"));
    for dir in dirs {
        for file in read_dir(&dir)? {
            if file.extension().is_some_and(|e| e == "c") {
                let relative = file
                    .strip_prefix(musl)
                    .expect("under musl")
                    .to_string_lossy()
                    .into_owned();
                sources.insert(relative, file);
            }
        }
    }
    for (path, text) in PORT {
        if path.starts_with("src/") {
            let local = build.join("port").join(path);
            write(&local, text)?;
            sources.insert(path.to_string(), local);
        }
    }
    Ok(sources
        .into_iter()
        .map(|(relative, path)| {
            let name = relative
                .trim_start_matches("src/")
                .replace('/', "_")
                .replace(".c", ".bc");
            (name, path)
        })
        .collect())
}

fn compile_all(
    sources: &[(String, PathBuf)],
    include_args: &[String],
    out_dir: &Path,
    progress: Progress,
) -> Result<Vec<PathBuf>> {
    let next = Mutex::new(0usize);
    let failures = Mutex::new(Vec::<String>::new());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next
                            .lock()
                            .expect("no worker panics while holding the lock");
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some((name, source)) = sources.get(i) else {
                        break;
                    };
                    let out = out_dir.join(name);
                    let result = tools::run(
                        Command::new(tools::clang())
                            .args(LIBC_CFLAGS)
                            .args(include_args)
                            .arg(source)
                            .arg("-o")
                            .arg(&out),
                    );
                    if let Err(e) = result {
                        failures
                            .lock()
                            .expect("lock")
                            .push(format!("{}: {e}", source.display()));
                    }
                    progress(i + 1, sources.len());
                }
            });
        }
    });
    let failures = failures.into_inner().expect("lock");
    if !failures.is_empty() {
        return Err(ToolchainError::Tool {
            tool: "clang (libc)".into(),
            status: format!("{} files failed", failures.len()),
            output: failures.join("\n"),
        });
    }
    Ok(sources.iter().map(|(name, _)| out_dir.join(name)).collect())
}

fn index_members(outputs: &[PathBuf]) -> Result<Vec<LibcMember>> {
    let context = Context::new();
    let mut members = Vec::new();
    for path in outputs {
        let module = context
            .parse_bitcode_file(path)
            .map_err(ToolchainError::Llvm)?;
        let symbols = module_symbols(&module);
        members.push(LibcMember {
            file: path
                .file_name()
                .expect("member has a name")
                .to_string_lossy()
                .into_owned(),
            symbols,
        });
    }
    Ok(members)
}

fn build_start(sysroot: &Sysroot) -> Result<()> {
    let src = sysroot.root().join("build/start.c");
    write(&src, START_C)?;
    tools::run(
        Command::new(tools::clang())
            .args(LIBC_CFLAGS)
            .arg(format!("-DXISA_STARTUP_BASE={:#x}", STARTUP.start))
            .arg(&src)
            .arg("-o")
            .arg(sysroot.start_bitcode()),
    )?;
    Ok(())
}

/// The ABI constants the runtime stubs are compiled with.
fn runtime_defines() -> Vec<String> {
    [
        ("XISA_NATIVE_STACK_BASE", native::STACK.start),
        ("XISA_NATIVE_STACK_TOP", native::STACK.end),
        ("XISA_STARTUP_END", STARTUP.end),
        ("XISA_SHADOW_STACK_BASE", SHADOW_STACK.start),
        ("XISA_HYPERCALL_PORT", u64::from(HYPERCALL_PORT)),
        ("XISA_HYPERCALL_MMIO", HYPERCALL_MMIO),
        ("XISA_CALL_MIGRATE", XISA_CALL_MIGRATE),
        ("XISA_CALL_LONGJMP", XISA_CALL_LONGJMP),
        ("XISA_PROCESS_CHANNEL", process::CHANNEL),
        ("XISA_PROCESS_CHANNEL_MAGIC", process::CHANNEL_MAGIC),
        ("XISA_PROCESS_MEMORY_FD", process::MEMORY_FD as u64),
        ("XISA_PROCESS_DOORBELL_FD", process::DOORBELL_FD as u64),
        ("XISA_PROCESS_BOOT", process::BOOT),
        ("XISA_PROCESS_SIGNAL", process::SIGNAL),
        (
            "XISA_PROCESS_REPLY_RESUME",
            u64::from(process::REPLY_RESUME),
        ),
    ]
    .iter()
    .map(|(name, value)| format!("-D{name}={value:#x}"))
    .collect()
}

fn build_runtime_stub(sysroot: &Sysroot, target: Target) -> Result<()> {
    let (sources, triple): (&[(&str, &str)], &str) = match target {
        Target::X86_64 => (
            &[("entry.S", RT_X86_64), ("process.c", RT_PROCESS)],
            "x86_64-unknown-none-elf",
        ),
        Target::Aarch64 => (
            &[("entry.S", RT_AARCH64), ("process.c", RT_PROCESS)],
            "aarch64-unknown-none-elf",
        ),
        Target::Wasm64 => (&[("fp128_compare.c", RT_WASM64)], "wasm64-unknown-unknown"),
    };
    let dir = sysroot.runtime_dir(target);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ToolchainError::io(format!("creating {}", dir.display()), e))?;
    for (name, text) in sources {
        let src = sysroot.root().join(format!("build/rt-{target}-{name}"));
        write(&src, text)?;
        let object = dir.join(Path::new(name).with_extension("o"));
        tools::run(
            Command::new(tools::clang())
                .arg(format!("--target={triple}"))
                .args(runtime_defines())
                .args([
                    "-O2",
                    "-ffreestanding",
                    "-nostdinc",
                    "-fno-stack-protector",
                    "-c",
                ])
                .arg("-isystem")
                .arg(tools::clang_resource_include())
                .arg(&src)
                .arg("-o")
                .arg(&object),
        )?;
    }
    Ok(())
}
