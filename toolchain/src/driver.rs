//! `xisa-cc` command-line parsing: the flags real build systems pass to `cc`, sorted into
//! front-end flags, link inputs and modes. A flag that cannot be honoured is an error naming
//! it; flags with no effect on a whole-program, multi-target build are accepted.

use std::path::{Path, PathBuf};

use crate::error::{Result, ToolchainError};
use crate::ir::OptLevel;
use crate::ir::migration::MigrationPoints;
use xisa_format::target::Target;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Link,
    Compile,
    Assembly,
    Preprocess,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Source(PathBuf),
    Object(PathBuf),
    Archive(PathBuf),
    Library(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    Version,
    DumpVersion,
    DumpMachine,
    /// `-print-search-dirs` (libtool reads the `libraries:` line).
    SearchDirs,
    /// `-print-multi-os-directory`: images have no multilib folders.
    MultiOsDirectory,
}

#[derive(Clone, Debug)]
pub struct Invocation {
    pub mode: Mode,
    pub inputs: Vec<Input>,
    pub output: Option<PathBuf>,
    pub frontend_flags: Vec<String>,
    pub library_dirs: Vec<PathBuf>,
    pub opt: OptLevel,
    /// Front-end size flag (`-Os`/`-Oz`) when one was given.
    pub size_flag: Option<String>,
    pub nostdlib: bool,
    pub nostdinc: bool,
    /// `-shared`: the output is a bitcode library (an indexed archive of the objects) that
    /// later links statically into images.
    pub shared: bool,
    pub verbose: bool,
    pub query: Option<Query>,
    /// Symbols to pull in as if referenced (`-u`).
    pub undefined: Vec<String>,
    /// Targets the image holds (`--xisa-targets=x86_64,aarch64,wasm64`; default all).
    pub targets: Vec<Target>,
    /// Where migration points go (`-fmigration-points=`).
    pub migration_points: MigrationPoints,
    /// Linker options accepted and ignored (a static image has no use for them); `-v`
    /// lists them.
    pub ignored_linker_options: Vec<String>,
    /// A linker option that takes the next linker word as its value is waiting for it.
    linker_value_for: Option<String>,
}

/// Libraries musl folds into libc: `-lm`, `-lpthread`, ... need nothing more.
pub const LIBC_PARTS: [&str; 9] = [
    "c", "m", "pthread", "rt", "dl", "util", "xnet", "resolv", "crypt",
];

/// Front-end flags that take their value as the next argument.
const FRONTEND_WITH_VALUE: [&str; 9] = [
    "-I",
    "-D",
    "-U",
    "-include",
    "-imacros",
    "-isystem",
    "-iquote",
    "-idirafter",
    "-MF",
];
const DEPENDENCY_WITH_VALUE: [&str; 2] = ["-MT", "-MQ"];

/// Linker options that change nothing for a static whole-program image.
const HARMLESS_LINKER_OPTIONS: [&str; 24] = [
    "-Bsymbolic",
    "-Bsymbolic-functions",
    "--Bsymbolic",
    "--export-dynamic-symbol",
    "--enable-new-dtags",
    "--disable-new-dtags",
    "--eh-frame-hdr",
    "--no-undefined-version",
    "--gc-sections",
    "--no-gc-sections",
    "-O1",
    "-O2",
    "--as-needed",
    "--no-as-needed",
    "--start-group",
    "--end-group",
    "-s",
    "--strip-all",
    "--strip-debug",
    "-E",
    "--export-dynamic",
    "--no-undefined",
    "--warn-common",
    "--sort-common",
];

/// Linker options whose value may come as the next linker word (`-Wl,-rpath,DIR` or
/// `-Wl,-rpath -Wl,DIR`); they are ignored with their value.
const IGNORED_WITH_VALUE: [&str; 9] = [
    "-rpath",
    "-rpath-link",
    "-soname",
    "-h",
    "--version-script",
    "-z",
    "--hash-style",
    "--build-id",
    "-Map",
];

/// What `-print-search-dirs` prints, in GCC's format: the programs folder (xisa-cc's own) and
/// the library folders `-l` searches (the `-L` folders; libc is built in).
pub fn search_dirs(programs: &Path, library_dirs: &[PathBuf]) -> String {
    let libraries: Vec<String> = library_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    format!(
        "install: {}/\nprograms: ={}\nlibraries: ={}\n",
        programs.display(),
        programs.display(),
        libraries.join(":")
    )
}

fn bad(flag: &str, reason: &str) -> ToolchainError {
    ToolchainError::Flag {
        flag: flag.to_string(),
        reason: reason.to_string(),
    }
}

pub fn parse(args: &[String]) -> Result<Invocation> {
    let mut inv = Invocation {
        mode: Mode::Link,
        inputs: Vec::new(),
        output: None,
        frontend_flags: Vec::new(),
        library_dirs: Vec::new(),
        opt: OptLevel::O2,
        size_flag: None,
        nostdlib: false,
        nostdinc: false,
        shared: false,
        verbose: false,
        query: None,
        undefined: Vec::new(),
        targets: Target::ALL.to_vec(),
        migration_points: MigrationPoints::Default,
        ignored_linker_options: Vec::new(),
        linker_value_for: None,
    };
    let mut language_c = false;
    let mut i = 0;
    let next = |i: &mut usize, flag: &str| -> Result<String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| bad(flag, "missing value"))
    };
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "-c" => inv.mode = Mode::Compile,
            "-S" => inv.mode = Mode::Assembly,
            "-E" => inv.mode = Mode::Preprocess,
            "-o" => inv.output = Some(PathBuf::from(next(&mut i, arg)?)),
            "-v" => inv.verbose = true,
            "--version" => inv.query = Some(Query::Version),
            "-dumpversion" | "-dumpfullversion" => inv.query = Some(Query::DumpVersion),
            "-dumpmachine" => inv.query = Some(Query::DumpMachine),
            "-print-search-dirs" | "--print-search-dirs" => inv.query = Some(Query::SearchDirs),
            "-print-multi-os-directory" | "--print-multi-os-directory" => {
                inv.query = Some(Query::MultiOsDirectory)
            }
            "-O0" => inv.opt = OptLevel::O0,
            "-O1" | "-O" => inv.opt = OptLevel::O1,
            "-O2" => inv.opt = OptLevel::O2,
            "-O3" => inv.opt = OptLevel::O3,
            "-Os" => {
                inv.opt = OptLevel::Os;
                inv.size_flag = Some("-Os".into());
            }
            "-Oz" => {
                inv.opt = OptLevel::Oz;
                inv.size_flag = Some("-Oz".into());
            }
            "-Ofast" => {
                return Err(bad(
                    arg,
                    "fast-math optimisation would let each target round differently; xisa keeps arithmetic bit-identical on every target (use -O3)",
                ));
            }
            "-nostdlib" | "-nodefaultlibs" => inv.nostdlib = true,
            "-nostdinc" => inv.nostdinc = true,
            "-static" | "-rdynamic" | "-s" | "-pie" | "-no-pie" | "-static-pie" | "-m64"
            | "-pipe" => {}
            "-shared" => inv.shared = true,
            "-r" => {
                return Err(bad(
                    arg,
                    "relocatable linking is not supported; archive the objects with `ar` instead",
                ));
            }
            "-pthread" => inv.frontend_flags.push("-D_REENTRANT".into()),
            "-x" => {
                let language = next(&mut i, arg)?;
                match language.as_str() {
                    "c" => language_c = true,
                    "none" => language_c = false,
                    other => {
                        return Err(bad(&format!("-x {other}"), "only C sources are supported"));
                    }
                }
            }
            "-Xclang" => {
                let value = next(&mut i, arg)?;
                inv.frontend_flags.push("-Xclang".into());
                inv.frontend_flags.push(value);
            }
            "-mllvm" => {
                return Err(bad(
                    arg,
                    "LLVM back-end options are target-specific; xisa chooses code generation for every target",
                ));
            }
            "-Xlinker" => {
                let value = next(&mut i, arg)?;
                linker_option(&value, &mut inv)?;
            }
            "-rpath" => {
                let value = next(&mut i, arg)?;
                inv.ignored_linker_options.push(format!("-rpath {value}"));
            }
            "-u" => inv.undefined.push(next(&mut i, arg)?),
            "-e" => {
                return Err(bad(
                    arg,
                    "a custom entry point is not supported; programs start at main",
                ));
            }
            "-L" => inv.library_dirs.push(PathBuf::from(next(&mut i, arg)?)),
            "-l" => {
                let name = next(&mut i, arg)?;
                inv.inputs.push(Input::Library(name));
            }
            _ if FRONTEND_WITH_VALUE.contains(&arg) || DEPENDENCY_WITH_VALUE.contains(&arg) => {
                let value = next(&mut i, arg)?;
                inv.frontend_flags.push(arg.to_string());
                inv.frontend_flags.push(value);
            }
            _ => classify_other(arg, language_c, &mut inv)?,
        }
        i += 1;
    }
    if let Some(option) = inv.linker_value_for.take() {
        return Err(bad(&format!("-Wl,{option}"), "missing value"));
    }
    if inv.query.is_none() && inv.inputs.is_empty() {
        return Err(bad("xisa-cc", "no input files"));
    }
    if inv.mode != Mode::Link && inv.output.is_some() {
        let sources = inv
            .inputs
            .iter()
            .filter(|i| matches!(i, Input::Source(_)))
            .count();
        if sources > 1 {
            return Err(bad(
                "-o",
                "cannot name one output for several sources with -c, -S or -E",
            ));
        }
    }
    Ok(inv)
}

fn classify_other(arg: &str, language_c: bool, inv: &mut Invocation) -> Result<()> {
    if let Some(list) = arg.strip_prefix("--xisa-targets=") {
        let mut targets = Vec::new();
        for name in list.split(',').filter(|s| !s.is_empty()) {
            let target: Target = name.parse().map_err(|reason: String| bad(arg, &reason))?;
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        if targets.is_empty() {
            return Err(bad(arg, "name at least one target"));
        }
        targets.sort();
        inv.targets = targets;
        return Ok(());
    }
    if let Some(value) = arg.strip_prefix("-Wl,") {
        for option in value.split(',').filter(|s| !s.is_empty()) {
            linker_option(option, inv)?;
        }
        return Ok(());
    }
    if arg.starts_with("-Wa,") {
        return Err(bad(
            arg,
            "assembler options are target-specific and there is no assembly in an xisa build",
        ));
    }
    if arg.starts_with("-Wp,") {
        inv.frontend_flags.push(arg.to_string());
        return Ok(());
    }
    if let Some(dir) = arg.strip_prefix("-L") {
        inv.library_dirs.push(PathBuf::from(dir));
        return Ok(());
    }
    if let Some(name) = arg.strip_prefix("-l") {
        inv.inputs.push(Input::Library(name.to_string()));
        return Ok(());
    }
    if arg.starts_with("-O") {
        return Err(bad(
            arg,
            "unknown optimisation level (use -O0, -O1, -O2, -O3, -Os or -Oz)",
        ));
    }
    if arg.starts_with("-m") {
        return Err(bad(
            arg,
            "target-specific code generation flags are not supported: xisa builds one program for every target",
        ));
    }
    if arg.starts_with("-f") {
        return frontend_f_flag(arg, inv);
    }
    let passthrough_prefixes = [
        "-I",
        "-D",
        "-U",
        "-W",
        "-w",
        "-std=",
        "-g",
        "-M",
        "-pedantic",
        "-ansi",
        "-include",
        "-isystem",
        "-iquote",
        "-idirafter",
        "-C",
        "-P",
        "-H",
        "--std=",
    ];
    if passthrough_prefixes.iter().any(|p| arg.starts_with(p)) {
        inv.frontend_flags.push(arg.to_string());
        return Ok(());
    }
    if arg.starts_with('-') && arg != "-" {
        return Err(bad(arg, "unknown option"));
    }
    let path = PathBuf::from(arg);
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_string();
    let input = match extension.as_str() {
        _ if language_c => Input::Source(path),
        "c" | "i" => Input::Source(path),
        "o" | "bc" | "lo" => Input::Object(path),
        "a" => Input::Archive(path),
        "s" | "S" | "asm" => {
            return Err(bad(
                arg,
                "assembly sources are target-specific; xisa builds C only",
            ));
        }
        "cc" | "cpp" | "cxx" | "C" | "c++" => {
            return Err(bad(arg, "C++ is not supported; xisa builds C only"));
        }
        "h" => return Err(bad(arg, "precompiled headers are not supported")),
        "so" => Input::Archive(path),
        _ if is_versioned_shared_library(&path) => Input::Archive(path),
        _ => Input::Object(path),
    };
    inv.inputs.push(input);
    Ok(())
}

/// `libfoo.so.1.2`: a shared library named with its version.
fn is_versioned_shared_library(path: &std::path::Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.split_once(".so.")
        .is_some_and(|(_, v)| v.split('.').all(|p| p.parse::<u32>().is_ok()))
}

fn frontend_f_flag(arg: &str, inv: &mut Invocation) -> Result<()> {
    if let Some(placement) = arg.strip_prefix("-fmigration-points=") {
        inv.migration_points = placement
            .parse()
            .map_err(|reason: String| bad(arg, &reason))?;
        return Ok(());
    }
    const REFUSED: [(&str, &str); 8] = [
        (
            "-ffast-math",
            "fast-math would let each target round differently; xisa keeps arithmetic bit-identical",
        ),
        (
            "-funsafe-math-optimizations",
            "unsafe math would let each target round differently",
        ),
        (
            "-fassociative-math",
            "reassociation would let each target round differently",
        ),
        (
            "-freciprocal-math",
            "reciprocal approximations differ between targets",
        ),
        (
            "-ffp-contract=fast",
            "fused multiply-add contraction differs between targets",
        ),
        (
            "-ffp-contract=on",
            "fused multiply-add contraction differs between targets",
        ),
        (
            "-fopenmp",
            "OpenMP needs threads, which xisa guests do not have",
        ),
        (
            "-fsanitize",
            "sanitizer runtimes are target-specific and not supported",
        ),
    ];
    for (prefix, reason) in REFUSED {
        if arg.starts_with(prefix) {
            return Err(bad(arg, reason));
        }
    }
    if arg.starts_with("-fprofile") || arg.starts_with("-fcoverage") || arg == "-ftest-coverage" {
        return Err(bad(arg, "profiling instrumentation is not supported"));
    }
    // Position independence, frame pointers, LTO, hardening of the native ABI and the choice
    // of linker are decided by xisa for every target; they do not change what the program means.
    const DECIDED_BY_XISA: [&str; 18] = [
        "-fstack-protector",
        "-fno-stack-protector",
        "-fno-semantic-interposition",
        "-fvisibility",
        "-fPIC",
        "-fpic",
        "-fPIE",
        "-fpie",
        "-fno-pic",
        "-fno-pie",
        "-fno-PIC",
        "-fno-PIE",
        "-fomit-frame-pointer",
        "-fno-omit-frame-pointer",
        "-fcf-protection",
        "-fstack-clash-protection",
        "-fno-plt",
        "-fasynchronous-unwind-tables",
    ];
    if DECIDED_BY_XISA.iter().any(|p| arg.starts_with(p))
        || arg.starts_with("-flto")
        || arg.starts_with("-fuse-ld=")
    {
        return Ok(());
    }
    inv.frontend_flags.push(arg.to_string());
    Ok(())
}

fn linker_option(option: &str, inv: &mut Invocation) -> Result<()> {
    if let Some(name) = inv.linker_value_for.take() {
        inv.ignored_linker_options.push(format!("{name} {option}"));
        return Ok(());
    }
    if IGNORED_WITH_VALUE.contains(&option) {
        inv.linker_value_for = Some(option.to_string());
        return Ok(());
    }
    let with_value = |prefix: &str| {
        option
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('=') || (prefix == "-z" && !rest.is_empty()))
    };
    if HARMLESS_LINKER_OPTIONS.contains(&option)
        || IGNORED_WITH_VALUE.iter().any(|p| with_value(p))
        || option.starts_with("--build-id")
        || option.starts_with("--export-dynamic-symbol=")
        || option.starts_with("-O")
        || option.starts_with("--compress-debug-sections")
    {
        inv.ignored_linker_options.push(option.to_string());
        return Ok(());
    }
    if let Some(dir) = option.strip_prefix("-L") {
        inv.library_dirs.push(PathBuf::from(dir));
        return Ok(());
    }
    if let Some(name) = option.strip_prefix("-l") {
        inv.inputs.push(Input::Library(name.to_string()));
        return Ok(());
    }
    Err(bad(
        &format!("-Wl,{option}"),
        "linker option not supported by xisa-cc (an xisa image is linked whole-program; \
         options that only shape a native ELF file are accepted and ignored)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// libtool's configure runs `$CC -print-search-dirs` and reads the `libraries:` line.
    #[test]
    fn search_dirs_are_printed_like_gcc() {
        let inv = parse(&args(&["-print-search-dirs", "-L/opt/lib", "-Llib"])).unwrap();
        assert_eq!(inv.query, Some(Query::SearchDirs));
        let text = search_dirs(Path::new("/x/bin"), &inv.library_dirs);
        assert_eq!(
            text,
            "install: /x/bin/\nprograms: =/x/bin\nlibraries: =/opt/lib:lib\n"
        );
        let inv = parse(&args(&["-print-multi-os-directory"])).unwrap();
        assert_eq!(inv.query, Some(Query::MultiOsDirectory));
    }

    #[test]
    fn compile_flags_are_sorted() {
        let inv = parse(&args(&[
            "-c", "-O3", "-g", "-Iinc", "-DX=1", "-I", "dir", "-std=c99", "-Wall", "-MMD", "-MF",
            "a.d", "a.c", "-o", "a.o",
        ]))
        .unwrap();
        assert_eq!(inv.mode, Mode::Compile);
        assert_eq!(inv.opt, OptLevel::O3);
        assert_eq!(inv.inputs, vec![Input::Source("a.c".into())]);
        assert_eq!(inv.output, Some("a.o".into()));
        assert_eq!(
            inv.frontend_flags,
            args(&[
                "-g", "-Iinc", "-DX=1", "-I", "dir", "-std=c99", "-Wall", "-MMD", "-MF", "a.d"
            ])
        );
    }

    #[test]
    fn link_inputs_keep_their_order() {
        let inv = parse(&args(&[
            "main.o",
            "-L.",
            "-lz",
            "libbz2.a",
            "-lm",
            "-Wl,--gc-sections",
            "-o",
            "prog",
        ]))
        .unwrap();
        assert_eq!(inv.mode, Mode::Link);
        assert_eq!(
            inv.inputs,
            vec![
                Input::Object("main.o".into()),
                Input::Library("z".into()),
                Input::Archive("libbz2.a".into()),
                Input::Library("m".into())
            ]
        );
        assert_eq!(inv.library_dirs, vec![PathBuf::from(".")]);
    }

    #[test]
    fn meaning_changing_flags_are_refused_by_name() {
        for flag in [
            "-march=native",
            "-ffast-math",
            "-mavx2",
            "-Wa,--noexecstack",
            "-Wl,--wrap=malloc",
            "-fsanitize=address",
        ] {
            let err = parse(&args(&[flag, "a.c"]))
                .err()
                .unwrap_or_else(|| panic!("{flag} accepted"));
            assert!(
                err.to_string().starts_with(flag.split('=').next().unwrap()),
                "{flag}: {err}"
            );
        }
        assert!(parse(&args(&["x.cpp"])).is_err());
        assert!(parse(&args(&["start.S"])).is_err());
        assert!(parse(&args(&["-c"])).is_err());
    }

    #[test]
    fn harmless_flags_are_accepted() {
        let inv = parse(&args(&[
            "-fPIC",
            "-fstack-clash-protection",
            "-flto=auto",
            "-pthread",
            "-Wl,-z,relro",
            "-c",
            "a.c",
        ]))
        .unwrap();
        assert_eq!(inv.frontend_flags, args(&["-D_REENTRANT"]));
    }

    #[test]
    fn static_image_linker_options_are_ignored_and_listed() {
        let inv = parse(&args(&[
            "main.o",
            "-Wl,-rpath,/usr/lib/x",
            "-Wl,-rpath",
            "-Wl,/opt/lib",
            "-rpath",
            "/usr/local/lib",
            "-Wl,-soname,libfoo.so.1",
            "-Wl,--as-needed,--no-as-needed",
            "-Wl,--version-script=foo.map",
            "-Wl,--version-script,foo.map",
            "-Wl,--gc-sections,-O1,--no-undefined",
            "-Wl,-z,relro,-z,now",
            "-Wl,-znoexecstack",
            "-Wl,--build-id=sha1",
            "-Wl,--hash-style=gnu",
            "-Wl,-Bsymbolic",
            "-Wl,--export-dynamic",
            "-Xlinker",
            "-rpath",
            "-Xlinker",
            "/x",
            "-Wl,-lfoo",
            "-fstack-protector-strong",
            "-fno-stack-protector",
            "-o",
            "prog",
        ]))
        .unwrap();
        assert_eq!(
            inv.inputs,
            vec![Input::Object("main.o".into()), Input::Library("foo".into())]
        );
        assert!(inv.frontend_flags.is_empty(), "{:?}", inv.frontend_flags);
        for expected in [
            "-rpath /usr/lib/x",
            "-rpath /opt/lib",
            "-rpath /usr/local/lib",
            "-soname libfoo.so.1",
            "--version-script=foo.map",
            "--version-script foo.map",
            "-z relro",
            "-z now",
            "-znoexecstack",
            "-rpath /x",
        ] {
            assert!(
                inv.ignored_linker_options.iter().any(|o| o == expected),
                "{expected} missing from {:?}",
                inv.ignored_linker_options
            );
        }
    }

    #[test]
    fn shared_libraries_are_bitcode_archives() {
        let inv = parse(&args(&[
            "-shared",
            "-fPIC",
            "-Wl,-soname,libbz2.so.1.0",
            "a.o",
            "b.o",
            "-o",
            "libbz2.so.1.0.8",
        ]))
        .unwrap();
        assert!(inv.shared);
        let inv = parse(&args(&["main.o", "libbz2.so.1.0", "libz.so", "x.so.1.x"])).unwrap();
        assert!(!inv.shared);
        assert_eq!(
            inv.inputs,
            vec![
                Input::Object("main.o".into()),
                Input::Archive("libbz2.so.1.0".into()),
                Input::Archive("libz.so".into()),
                Input::Object("x.so.1.x".into()),
            ]
        );
    }

    #[test]
    fn unknown_linker_options_and_missing_values_are_errors() {
        for list in [
            &["a.o", "-Wl,--wrap=malloc"][..],
            &["a.o", "-Wl,--defsym=x=1"][..],
            &["a.o", "-Wl,-rpath"][..],
        ] {
            let err = parse(&args(list))
                .err()
                .unwrap_or_else(|| panic!("{list:?} accepted"));
            assert!(err.to_string().starts_with("-Wl,"), "{err}");
        }
    }
}
