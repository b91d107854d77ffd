//! The targets an image carries.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    X86_64,
    Aarch64,
    Wasm64,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::X86_64, Target::Aarch64, Target::Wasm64];

    pub fn name(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64",
            Target::Aarch64 => "aarch64",
            Target::Wasm64 => "wasm64",
        }
    }

    pub fn is_native(self) -> bool {
        !matches!(self, Target::Wasm64)
    }

    /// Stable numeric identifier used in the image and checkpoint files.
    pub fn id(self) -> u32 {
        match self {
            Target::X86_64 => 1,
            Target::Aarch64 => 2,
            Target::Wasm64 => 3,
        }
    }

    pub fn from_id(id: u32) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The target this machine runs natively, if it is one of ours.
    pub fn host() -> Option<Target> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Target::X86_64),
            "aarch64" => Some(Target::Aarch64),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Ok(Target::X86_64),
            "aarch64" | "arm64" => Ok(Target::Aarch64),
            "wasm64" => Ok(Target::Wasm64),
            other => Err(format!(
                "unknown target `{other}` (expected x86_64, aarch64 or wasm64)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        for target in Target::ALL {
            assert_eq!(Target::from_id(target.id()), Some(target));
            assert_eq!(target.name().parse::<Target>(), Ok(target));
        }
        assert!("riscv64".parse::<Target>().is_err());
        assert_eq!(Target::from_id(0), None);
    }
}
