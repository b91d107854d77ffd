//! Which machine runs a guest: the executor chosen on the command line, made into a runtime
//! machine over the image.

use xisa_format::image::Image;
use xisa_format::memory_map::MemoryMap;
use xisa_format::target::Target;
use xisa_native::{Backend, NativeMachine};
use xisa_runtime::{GuestState, Machine};
use xisa_wasm::WasmMachine;

use crate::report::with_hint;

/// How a native target runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    Kvm,
    Emu,
    Process,
}

impl BackendChoice {
    fn native(self) -> Backend {
        match self {
            BackendChoice::Kvm => Backend::Kvm,
            BackendChoice::Emu => Backend::Emu,
            BackendChoice::Process => Backend::Process,
        }
    }
}

pub fn parse_backend(text: &str) -> Result<BackendChoice, String> {
    match text {
        "kvm" => Ok(BackendChoice::Kvm),
        "emu" => Ok(BackendChoice::Emu),
        "process" => Ok(BackendChoice::Process),
        other => Err(format!(
            "unknown backend `{other}` (expected kvm, emu or process)"
        )),
    }
}

pub fn parse_target(text: &str) -> Result<Target, String> {
    text.parse()
}

/// The executor a run uses, after defaults are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Executor {
    pub target: Target,
    /// `None` for wasm64, which always runs on Wasmtime.
    pub backend: Option<BackendChoice>,
}

impl Executor {
    pub fn choose(
        target: Option<Target>,
        backend: Option<BackendChoice>,
    ) -> anyhow::Result<Executor> {
        let host = Target::host();
        let target = target.or(host).unwrap_or(Target::Wasm64);
        if target == Target::Wasm64 {
            if let Some(backend) = backend {
                return Err(with_hint(
                    anyhow::anyhow!("--backend {backend:?} does not apply to wasm64"),
                    "wasm64 always runs on the Wasmtime reference executor; drop --backend",
                ));
            }
            return Ok(Executor {
                target,
                backend: None,
            });
        }
        let backend = backend.unwrap_or(
            if Some(target) == host && xisa_native::backend::kvm::availability().is_ok() {
                BackendChoice::Kvm
            } else {
                BackendChoice::Emu
            },
        );
        Ok(Executor {
            target,
            backend: Some(backend),
        })
    }

    pub fn describe(&self) -> String {
        match self.backend {
            None => format!("{} (Wasmtime reference executor)", self.target),
            Some(BackendChoice::Kvm) => format!("{} on KVM", self.target),
            Some(BackendChoice::Emu) => format!("{} on CPU emulation (Unicorn)", self.target),
            Some(BackendChoice::Process) => format!("{} as a Linux process", self.target),
        }
    }

    /// Short name, e.g. `kvm/x86_64` or `wasm64`.
    pub fn name(&self) -> String {
        match self.backend {
            None => self.target.to_string(),
            Some(backend) => format!("{}/{}", backend.native().name(), self.target),
        }
    }

    /// A machine of this executor with `image`'s program loaded into memory laid out by `map`.
    pub fn machine<'a>(
        &self,
        image: &'a Image,
        map: MemoryMap,
        guest: GuestState,
    ) -> anyhow::Result<Box<dyn Machine + 'a>> {
        Ok(match self.backend {
            None => Box::new(WasmMachine::new(image, map, guest)?),
            Some(backend) => Box::new(NativeMachine::new(
                image,
                self.target,
                backend.native(),
                map,
                guest,
            )?),
        })
    }
}
