//! The containers a runtime root holds: one folder per container with its state file, the
//! exec fifo `start` opens and the capture file of a checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::OciError;

/// What the runtime remembers about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub pid: i32,
    /// `/proc/PID/stat` start time, so a reused pid is not mistaken for the container.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub started: bool,
    pub created: String,
    pub annotations: BTreeMap<String, String>,
}

/// A container's status as the OCI state reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

/// The runtime's state root.
pub struct Root {
    pub path: PathBuf,
}

impl Root {
    pub fn new(path: PathBuf) -> Root {
        Root { path }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    pub fn fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join("exec.fifo")
    }

    pub fn capture(&self, id: &str) -> PathBuf {
        self.dir(id).join("capture.ckpt")
    }

    /// Makes the folder of a new container.
    pub fn create(&self, id: &str) -> Result<PathBuf, OciError> {
        if id.is_empty() || id.contains('/') || id.starts_with('.') {
            return Err(OciError::Unsupported {
                what: format!("container id {id:?}"),
                why: "ids must be non-empty names without `/`".into(),
            });
        }
        std::fs::create_dir_all(&self.path)
            .map_err(|e| OciError::io(format!("cannot create {}", self.path.display()), e))?;
        let dir = self.dir(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(OciError::Exists(id.into()))
            }
            Err(e) => Err(OciError::io(format!("cannot create {}", dir.display()), e)),
        }
    }

    pub fn save(&self, record: &Record) -> Result<(), OciError> {
        let path = self.dir(&record.id).join("state.json");
        let temp = path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(record).expect("records serialize");
        std::fs::write(&temp, text)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(|e| OciError::io(format!("cannot write {}", path.display()), e))
    }

    pub fn load(&self, id: &str) -> Result<Record, OciError> {
        let path = self.dir(id).join("state.json");
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OciError::NoContainer(id.into()));
            }
            Err(e) => return Err(OciError::io(format!("cannot read {}", path.display()), e)),
        };
        serde_json::from_slice(&text).map_err(|source| OciError::BadState { path, source })
    }

    pub fn remove(&self, id: &str) -> Result<(), OciError> {
        let dir = self.dir(id);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| OciError::io(format!("cannot remove {}", dir.display()), e))
    }
}

/// The start time field of `/proc/PID/stat`, or None when there is no such live process
/// (a zombie counts as gone).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

fn parse_stat(stat: &str) -> Option<u64> {
    // The command name is in parentheses and may hold spaces: fields follow the last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

impl Record {
    pub fn status(&self) -> Status {
        if self.pid <= 0 || process_start_time(self.pid) != Some(self.start_time) {
            Status::Stopped
        } else if self.started {
            Status::Running
        } else {
            Status::Created
        }
    }

    /// The OCI state document.
    pub fn oci_state(&self) -> serde_json::Value {
        let status = self.status();
        serde_json::json!({
            "ociVersion": "1.0.2",
            "id": self.id,
            "status": status.name(),
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "bundle": self.bundle,
            "rootfs": self.bundle.join("rootfs"),
            "created": self.created,
            "annotations": self.annotations,
        })
    }
}

/// The default state root: /run/xisa-oci for the real root, else under XDG_RUNTIME_DIR
/// (rootless Podman runs the runtime as uid 0 of a user namespace, which cannot write /run).
pub fn default_root() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && in_initial_user_namespace() {
        return PathBuf::from("/run/xisa-oci");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) => Path::new(&dir).join("xisa-oci"),
        None => std::env::temp_dir().join("xisa-oci"),
    }
}

/// The initial user namespace maps every uid to itself: `0 0 4294967295`.
fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| is_identity_uid_map(&map))
}

fn is_identity_uid_map(map: &str) -> bool {
    map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_identity_uid_map_is_the_initial_namespace() {
        assert!(is_identity_uid_map("         0          0 4294967295\n"));
        assert!(!is_identity_uid_map(
            "         0       1000          1\n         1     100000      65536\n"
        ));
    }

    fn record(id: &str, pid: i32, start_time: u64) -> Record {
        Record {
            id: id.into(),
            pid,
            start_time,
            bundle: "/b".into(),
            started: false,
            created: "2026-01-01T00:00:00Z".into(),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn records_round_trip_and_ids_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path().join("root"));
        root.create("c1").unwrap();
        assert!(matches!(root.create("c1"), Err(OciError::Exists(_))));
        assert!(root.create("../x").is_err());
        let saved = record("c1", 42, 7);
        root.save(&saved).unwrap();
        assert_eq!(root.load("c1").unwrap(), saved);
        assert!(matches!(root.load("nope"), Err(OciError::NoContainer(_))));
        std::fs::write(root.dir("c1").join("state.json"), "{").unwrap();
        assert!(matches!(root.load("c1"), Err(OciError::BadState { .. })));
        root.remove("c1").unwrap();
        assert!(matches!(root.load("c1"), Err(OciError::NoContainer(_))));
    }

    #[test]
    fn status_follows_the_process() {
        let me = std::process::id() as i32;
        let start = process_start_time(me).unwrap();
        let mut live = record("a", me, start);
        assert_eq!(live.status(), Status::Created);
        live.started = true;
        assert_eq!(live.status(), Status::Running);
        assert_eq!(live.oci_state()["status"], "running");
        // Same pid, other start time: a reused pid.
        assert_eq!(record("b", me, start + 1).status(), Status::Stopped);
        assert_eq!(record("c", 0, 0).oci_state()["pid"], 0);
    }

    #[test]
    fn stat_lines_with_spaces_in_the_name_parse() {
        let line = "12 (a b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99 20";
        assert_eq!(parse_stat(line), Some(99));
        let zombie = "12 (x) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99 20";
        assert_eq!(parse_stat(zombie), None);
    }
}
