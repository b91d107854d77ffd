//! The job table and where it lives on disk: `STATE/jobs.json` (written whole after every
//! change) and, per job, `STATE/jobs/ID/` with its image, input archive, latest snapshot and
//! output. A restarted controller reads it back and checks it against the nodes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::knowledge::Knowledge;
use crate::policy::Role;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running { node: usize, guest: u64 },
    Finished { status: i32 },
    Failed { reason: String },
}

/// One stay of a job on a node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stay {
    pub node: usize,
    pub role: Role,
    pub from_ms: u64,
    pub to_ms: Option<u64>,
    pub points: Option<u64>,
    pub run_us: Option<u64>,
    /// The work of this stay was lost (its node died with no later snapshot).
    #[serde(default)]
    pub lost: bool,
    /// The job started afresh here (not resumed from a checkpoint): its points count from 0.
    #[serde(default)]
    pub fresh: bool,
    /// Progress while it ran: (milliseconds since its executor started, points passed).
    #[serde(default)]
    pub samples: Vec<(u64, u64)>,
}

/// Most progress samples kept per stay.
const MAX_SAMPLES: usize = 4096;

impl Stay {
    /// Adds a progress sample, at most one per 500 ms.
    pub fn sample(&mut self, sample: (u64, u64)) {
        let due = self
            .samples
            .last()
            .is_none_or(|last| sample.0 >= last.0 + 500 && sample.1 >= last.1);
        if due && self.samples.len() < MAX_SAMPLES {
            self.samples.push(sample);
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub args: Vec<String>,
    pub state: JobState,
    pub submitted_ms: u64,
    pub finished_ms: Option<u64>,
    pub stays: Vec<Stay>,
    pub migrations: u32,
    pub bytes_moved: u64,
    pub restarts: u32,
    /// When the snapshot in the job's folder was fetched, if there is one.
    pub snapshot_ms: Option<u64>,
    pub has_files: bool,
    /// Resident memory on its current node, KiB.
    pub rss_kb: u64,
}

impl Job {
    pub fn current_stay(&mut self) -> Option<&mut Stay> {
        self.stays.last_mut().filter(|s| s.to_ms.is_none())
    }

    /// Ends the current stay at `now_ms`.
    pub fn end_stay(&mut self, now_ms: u64) {
        if let Some(stay) = self.current_stay() {
            stay.to_ms = Some(now_ms);
        }
    }

    /// Seconds the job has run on servers and on boards (stays whose work was not lost; the
    /// guest's own run time where known, else wall time).
    pub fn seconds_by_role(&self, now_ms: u64) -> (f64, f64) {
        let (mut server, mut board) = (0.0, 0.0);
        for stay in self.stays.iter().filter(|s| !s.lost) {
            let seconds = match stay.run_us {
                Some(run_us) => run_us as f64 / 1e6,
                None => stay.to_ms.unwrap_or(now_ms).saturating_sub(stay.from_ms) as f64 / 1e3,
            };
            match stay.role {
                Role::Server => server += seconds,
                Role::Board => board += seconds,
            }
        }
        (server, board)
    }

    pub fn is_live(&self) -> bool {
        matches!(self.state, JobState::Pending | JobState::Running { .. })
    }
}

/// Everything the controller keeps across restarts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Table {
    pub epoch_unix_ms: u64,
    pub next_job: u64,
    pub jobs: BTreeMap<u64, Job>,
    pub knowledge: Knowledge,
    /// Mean downtime of the moves so far, seconds, and how many.
    pub move_seconds: f64,
    pub moves: u32,
}

impl Table {
    /// Jobs running on node `node`.
    pub fn running_on(&self, node: usize) -> u32 {
        self.jobs
            .values()
            .filter(|j| matches!(j.state, JobState::Running { node: n, .. } if n == node))
            .count() as u32
    }
}

/// The label a job's guests carry on their nodes: the job's number and the table's epoch, so
/// that a restarted controller knows its own guests from any other controller's.
pub fn guest_label(epoch_unix_ms: u64, job: u64) -> String {
    format!("{job}@{epoch_unix_ms}")
}

/// The job a guest label names, if it is one of the table with this epoch.
pub fn job_of_label(label: &str, epoch_unix_ms: u64) -> Option<u64> {
    let (job, epoch) = label.split_once('@')?;
    if epoch.parse::<u64>().ok()? != epoch_unix_ms {
        return None;
    }
    job.parse().ok()
}

/// The controller's folder.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("jobs"))?;
        Ok(Store { root: root.into() })
    }

    fn table_path(&self) -> PathBuf {
        self.root.join("jobs.json")
    }

    pub fn job_dir(&self, job: u64) -> PathBuf {
        self.root.join("jobs").join(job.to_string())
    }

    pub fn image(&self, job: u64) -> PathBuf {
        self.job_dir(job).join("image.xisa")
    }

    pub fn files(&self, job: u64) -> PathBuf {
        self.job_dir(job).join("files.tar")
    }

    /// The latest snapshot: `guest.ckpt`, `stdout`, `stderr`, `files.tar`.
    pub fn snapshot(&self, job: u64) -> PathBuf {
        self.job_dir(job).join("snapshot")
    }

    /// The job's output once it ended: `stdout`, `stderr`.
    pub fn output(&self, job: u64) -> PathBuf {
        self.job_dir(job).join("output")
    }

    /// The saved table, or `None` when there is none yet.
    pub fn load(&self) -> Result<Option<Table>, String> {
        match std::fs::read(self.table_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{} is damaged: {e}", self.table_path().display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", self.table_path().display())),
        }
    }

    pub fn save(&self, table: &Table) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(table).map_err(|e| e.to_string())?;
        write_whole(&self.table_path(), &bytes)
    }
}

/// Writes a file so that a reader sees the old or the new one, never half of one.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), String> {
    xisa_format::output::write_whole(path, bytes, false)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_labels_name_a_job_of_one_table_only() {
        let label = guest_label(1_700_000_000_123, 42);
        assert_eq!(job_of_label(&label, 1_700_000_000_123), Some(42));
        assert_eq!(job_of_label(&label, 1_700_000_000_124), None);
        for other in ["42", "", "@", "x@1700000000123", "42@", "42@x"] {
            assert_eq!(job_of_label(other, 1_700_000_000_123), None, "{other}");
        }
    }

    #[test]
    fn the_table_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("xisa-jobs-{}", std::process::id()));
        let store = Store::new(&dir).unwrap();
        assert!(store.load().unwrap().is_none());
        let mut table = Table {
            next_job: 2,
            ..Table::default()
        };
        table.jobs.insert(
            1,
            Job {
                id: 1,
                name: "cg".into(),
                args: vec!["W".into()],
                state: JobState::Running { node: 1, guest: 4 },
                submitted_ms: 5,
                finished_ms: None,
                stays: Vec::new(),
                migrations: 0,
                bytes_moved: 0,
                restarts: 0,
                snapshot_ms: None,
                has_files: false,
                rss_kb: 0,
            },
        );
        store.save(&table).unwrap();
        let back = store.load().unwrap().unwrap();
        assert_eq!(back.jobs[&1].state, JobState::Running { node: 1, guest: 4 });
        std::fs::write(dir.join("jobs.json"), b"{").unwrap();
        assert!(store.load().unwrap_err().contains("damaged"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
