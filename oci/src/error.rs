//! The errors of the runtime, each with a hint for the person reading Podman's output.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("cannot read the bundle's config {}: {source}", path.display())]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the bundle's config {} is not valid OCI JSON: {source}", path.display())]
    ParseConfig {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the bundle's config has no process.args")]
    NoArgs,
    #[error("no .xisa image {0:?} in the container's root filesystem {1}")]
    MissingImage(String, PathBuf),
    #[error("unknown annotation {0:?} (known: run.xisa.target, run.xisa.backend, run.xisa.mem)")]
    UnknownAnnotation(String),
    #[error("annotation {key}={value:?}: {reason}")]
    BadAnnotation {
        key: String,
        value: String,
        reason: String,
    },
    #[error("container {0:?} does not exist")]
    NoContainer(String),
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("container {id:?} is {status}, {needed}")]
    WrongStatus {
        id: String,
        status: String,
        needed: &'static str,
    },
    #[error("unknown signal {0:?}")]
    BadSignal(String),
    #[error("{what} is not supported by xisa-oci: {why}")]
    Unsupported { what: String, why: String },
    #[error("the container exited before it reached a migration point, so nothing was captured")]
    NoCapture,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the container state {} is corrupt: {source}", path.display())]
    BadState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl OciError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        OciError::Io {
            what: what.into(),
            source,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            OciError::ReadConfig { .. } | OciError::ParseConfig { .. } => {
                "give --bundle a folder holding an OCI config.json (podman and runc generate one)"
            }
            OciError::NoArgs => "set the command, e.g. `podman run IMAGE /prog.xisa ARGS`",
            OciError::MissingImage(..) => {
                "process.args[0] must name a .xisa file inside the image (build one with `xisa oci-image`)"
            }
            OciError::UnknownAnnotation(_) | OciError::BadAnnotation { .. } => {
                "use run.xisa.target=x86_64|aarch64|wasm64, run.xisa.backend=kvm|emu|process, run.xisa.mem=SIZE"
            }
            OciError::NoCapture => "checkpoint a container that is still running",
            OciError::Unsupported { .. } => "see the OCI section of the README",
            _ => return None,
        })
    }
}
