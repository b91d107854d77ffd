//! The node protocol (spec.md §6): one request and one response per connection, each a frame
//! of a fixed header, a JSON message and the binary blobs it announces (images, checkpoints,
//! output). Everything read from a peer is checked before use: a malformed or hostile frame is
//! an error, never a panic or an allocation the sender has not paid for with bytes.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

/// The first bytes of every frame.
pub const MAGIC: &[u8; 4] = b"XISN";
/// The protocol version this build speaks.
pub const VERSION: u16 = 1;
/// Largest JSON message.
pub const MAX_MESSAGE: u32 = 1 << 20;
/// Most blobs in one frame.
pub const MAX_BLOBS: u32 = 8;
/// Largest blob (a checkpoint of the whole guest address space fits).
pub const MAX_BLOB: u64 = 1 << 36;
/// Bytes of the fixed header: magic, version, reserved, message length, blob count.
const HEADER: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the connection failed")]
    Io(#[from] std::io::Error),
    #[error("the peer does not speak the xisa node protocol (bad magic {0:02x?})")]
    Magic([u8; 4]),
    #[error("the peer speaks node protocol version {0}; this node speaks version {VERSION}")]
    Version(u16),
    #[error("the frame announces a {0}-byte message (at most {MAX_MESSAGE})")]
    MessageTooLarge(u32),
    #[error("the frame announces {0} blobs (at most {MAX_BLOBS})")]
    TooManyBlobs(u32),
    #[error("the frame announces a {0}-byte blob (at most {MAX_BLOB})")]
    BlobTooLarge(u64),
    #[error("the frame ended early: expected {expected} more bytes of {what}")]
    Truncated { what: &'static str, expected: u64 },
    #[error("the message is not valid: {0}")]
    Message(String),
}

/// What a client asks a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Run the image (blob 0) with these guest arguments; blob 1, when sent, is a tar archive
    /// of the guest's folder (its inputs).
    Run {
        target: String,
        backend: Option<String>,
        args: Vec<String>,
        /// A label the guest carries (a controller's job name), shown by `list`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<String>,
        /// Capture the guest every so many milliseconds (kept for `fetch`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint_every_ms: Option<u64>,
    },
    /// What this node is: its ISA, cores and profile.
    Info,
    /// The guest's latest periodic checkpoint with the output and files that go with it.
    Fetch { guest: u64 },
    /// Stop a guest and forget it.
    Kill { guest: u64 },
    /// Capture a guest at its next migration point and stop it there; the answer carries the
    /// checkpoint (a controller parks the job and resumes it elsewhere later).
    Stop { guest: u64 },
    /// List the guests with their state and load.
    List,
    /// Wait until a guest ends; the response carries its output.
    Wait { guest: u64 },
    /// Move a guest of this node to the node at `to`, resuming it there on `target`.
    Migrate {
        guest: u64,
        to: String,
        target: String,
        backend: Option<String>,
        #[serde(default)]
        mode: MigrateMode,
        /// Post-copy only: have the held guest write a complete checkpoint on the source
        /// first, which survives the source failing before the destination holds every page.
        #[serde(default)]
        safe: bool,
    },
    /// From another node, during a pre-copy move: keep this round's checkpoint (blob 0; in
    /// round 0 a complete one, with the image as blob 1) for the `receive` that follows. The
    /// first round opens a stage, later ones name it. The answer is `staged`.
    Stage { stage: Option<u64>, round: u32 },
    /// From another node: resume a captured guest here. Blobs: image, checkpoint, the
    /// output the guest wrote so far (stdout, stderr), and its folder as a tar archive.
    Receive {
        target: String,
        backend: Option<String>,
        origin: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint_every_ms: Option<u64>,
        /// A pre-copy move: the checkpoint is incremental against the one staged under this
        /// number, whose image is used when blob 0 is empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<u64>,
        /// A post-copy move: the checkpoint holds no page; they come from this guest of that
        /// node (`pages`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pages_from: Option<PagesFrom>,
    },
    /// From another node, during a post-copy move: the guest's page stream. The answer
    /// `streaming` turns the connection into the stream (spec.md §6).
    Pages { guest: u64 },
    /// To a controller: run this job somewhere in the cluster. Blob 0 is the image, blob 1
    /// (optional) the tar archive of its input folder.
    Submit { name: String, args: Vec<String> },
    /// To a controller: the cluster's nodes and jobs.
    Status,
    /// To a controller: wait until a job ends; the answer is `finished` with its output.
    Result { job: u64 },
}

/// A node as it describes itself (`xisa node serve --cores ... --watts ...`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its member name in the cluster.
    pub member: String,
    /// Where its guests run.
    pub target: String,
    pub backend: Option<String>,
    /// Guests it runs at once (one per core).
    pub cores: u32,
    /// The share of a host core each guest gets (1 is unthrottled): how a slower board is
    /// modelled on a faster machine.
    pub cpu_share: f64,
    /// Power drawn idle, and added per busy core, in watts (for energy estimates).
    pub watts_idle: f64,
    pub watts_per_core: f64,
}

/// A job as a controller shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    pub job: u64,
    pub name: String,
    pub args: Vec<String>,
    /// `pending`, `running`, `moving`, `finished` or `failed`.
    pub state: String,
    /// Milliseconds since the controller's epoch.
    pub submitted_ms: u64,
    pub finished_ms: Option<u64>,
    pub status: Option<i32>,
    /// Where it ran: one entry per stay on a node.
    pub placements: Vec<Placement>,
    pub migrations: u32,
    /// Checkpoint and image bytes moved by migrations.
    pub bytes_moved: u64,
    /// Restarts after a node was lost (from the last checkpoint, or from the start).
    pub restarts: u32,
    pub reason: Option<String>,
}

/// One stay of a job on a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub node: String,
    pub target: String,
    pub from_ms: u64,
    pub to_ms: Option<u64>,
    /// Migration points passed and guest run time on this stay, once it ended.
    pub points: Option<u64>,
    pub run_us: Option<u64>,
}

/// A node as a controller sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub address: String,
    pub info: Option<NodeInfo>,
    pub alive: bool,
    pub running: u32,
}

/// What `xisa cluster status` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub policy: String,
    /// The controller's epoch, in milliseconds since 1970.
    pub epoch_unix_ms: u64,
    /// Milliseconds since the epoch, now.
    pub now_ms: u64,
    pub nodes: Vec<NodeStatus>,
    pub jobs: Vec<JobInfo>,
}

/// A guest as `list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestInfo {
    pub guest: u64,
    /// `running`, `exited`, `moved` or `failed`.
    pub state: String,
    pub target: String,
    pub backend: Option<String>,
    /// Exit status once exited.
    pub status: Option<i32>,
    /// CPU time of the guest's running process, in milliseconds (0 when not running).
    pub cpu_ms: u64,
    /// Where it went, once moved (`ADDR#GUEST`).
    pub moved_to: Option<String>,
    /// Why it failed, once failed.
    pub reason: Option<String>,
    /// The label it was started with.
    #[serde(default)]
    pub job: Option<String>,
    /// Resident memory of its process, in KiB (0 when not running).
    #[serde(default)]
    pub rss_kb: u64,
    /// Migration points passed and guest run time, once ended (exited or moved).
    #[serde(default)]
    pub points: Option<u64>,
    #[serde(default)]
    pub run_us: Option<u64>,
    /// While running: milliseconds since its executor started and migration points passed.
    #[serde(default)]
    pub progress: Option<(u64, u64)>,
    /// It resumed a checkpoint (its points count from there) rather than starting afresh.
    #[serde(default)]
    pub restored: bool,
}

/// Where a post-copy move's pages come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagesFrom {
    pub node: String,
    pub guest: u64,
}

/// How a guest moves (the field's names: stop-and-copy, pre-copy, post-copy).
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrateMode {
    /// Capture at the next migration point, send everything, resume there.
    #[default]
    StopCopy,
    /// First send a checkpoint taken while the guest runs on (copy-on-write), then stop it
    /// and send only the pages changed since.
    PreCopy,
    /// Hold the guest only to send its frames and state; it runs on the destination at once
    /// and its pages follow, on demand and in the background, from the held source.
    PostCopy,
}

impl MigrateMode {
    pub fn name(self) -> &'static str {
        match self {
            MigrateMode::StopCopy => "stop-copy",
            MigrateMode::PreCopy => "pre-copy",
            MigrateMode::PostCopy => "post-copy",
        }
    }
}

/// The phases of a migration as the source node measured them (milliseconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// From the capture request until the guest was held and its checkpoint written.
    pub capture_ms: f64,
    /// Sending image, checkpoint and output to the destination, until it confirmed.
    pub transfer_ms: f64,
    /// The destination's part of the transfer: from receiving everything to its guest running.
    pub restore_ms: f64,
    /// From the capture request until the guest ran again (on the destination, or on the
    /// source when the move failed): the time it made no progress, at most.
    pub downtime_ms: f64,
    pub checkpoint_bytes: u64,
    pub image_bytes: u64,
    #[serde(default)]
    pub mode: MigrateMode,
    /// Pre-copy: taking and sending the complete checkpoint while the guest ran on.
    #[serde(default)]
    pub precopy_ms: f64,
    /// Pre-copy: bytes sent while the guest ran on (image and complete checkpoint).
    #[serde(default)]
    pub precopy_bytes: u64,
    /// Pre-copy: how many rounds ran (the first sends a complete checkpoint, each later one
    /// the pages changed since the one before).
    #[serde(default)]
    pub precopy_rounds: u32,
    /// Post-copy: from the guest running on the destination until it held every page.
    #[serde(default)]
    pub postcopy_ms: f64,
    /// Post-copy: pages the destination took from the source, and the bytes of those that
    /// did not hold their initial contents.
    #[serde(default)]
    pub postcopy_pages: u64,
    #[serde(default)]
    pub postcopy_bytes: u64,
    /// The guest on the destination, if the move succeeded.
    pub remote_guest: Option<u64>,
    /// Why the guest stayed on the source, if it did.
    pub kept_on_source: Option<String>,
    /// Post-copy with `safe`, when the guest moved: the complete checkpoint written on the
    /// source first, before the page-less one (its time is part of `capture_ms`); removed
    /// once the destination held every page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_checkpoint: Option<String>,
}

/// What a node answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    Started {
        guest: u64,
    },
    Guests {
        guests: Vec<GuestInfo>,
    },
    /// Blobs: stdout, stderr.
    Finished {
        guest: u64,
        status: i32,
    },
    /// The guest moved elsewhere before it finished: wait there.
    Moved {
        guest: u64,
        to: String,
    },
    Migrated {
        timeline: Timeline,
    },
    Received {
        guest: u64,
        restore_ms: f64,
    },
    Staged {
        stage: u64,
    },
    /// The connection carries the page stream from here on.
    Streaming,
    Node {
        info: NodeInfo,
    },
    /// Blobs: checkpoint, stdout, stderr, files (tar).
    Snapshot {
        guest: u64,
    },
    Killed {
        guest: u64,
    },
    Submitted {
        job: u64,
    },
    Cluster {
        status: ClusterStatus,
    },
    Error {
        message: String,
    },
}

/// A message and its blobs.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame<T> {
    pub message: T,
    pub blobs: Vec<Vec<u8>>,
}

impl<T> Frame<T> {
    pub fn new(message: T) -> Self {
        Frame {
            message,
            blobs: Vec::new(),
        }
    }

    pub fn with_blobs(message: T, blobs: Vec<Vec<u8>>) -> Self {
        Frame { message, blobs }
    }
}

/// Writes one frame.
pub fn write_frame<T: Serialize>(out: &mut impl Write, frame: &Frame<T>) -> Result<(), WireError> {
    let message =
        serde_json::to_vec(&frame.message).map_err(|e| WireError::Message(e.to_string()))?;
    let mut header = Vec::with_capacity(HEADER + 8 * frame.blobs.len());
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes());
    header.extend_from_slice(&(message.len() as u32).to_le_bytes());
    header.extend_from_slice(&(frame.blobs.len() as u32).to_le_bytes());
    for blob in &frame.blobs {
        header.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    }
    out.write_all(&header)?;
    out.write_all(&message)?;
    for blob in &frame.blobs {
        out.write_all(blob)?;
    }
    out.flush()?;
    Ok(())
}

fn read_exact(
    input: &mut impl Read,
    bytes: &mut [u8],
    what: &'static str,
) -> Result<(), WireError> {
    input.read_exact(bytes).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => WireError::Truncated {
            what,
            expected: bytes.len() as u64,
        },
        _ => WireError::Io(e),
    })
}

/// Reads one frame.
pub fn read_frame<T: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
) -> Result<Frame<T>, WireError> {
    let mut header = [0u8; HEADER];
    read_exact(input, &mut header, "frame header")?;
    let magic: [u8; 4] = header[0..4].try_into().expect("4 bytes");
    if &magic != MAGIC {
        return Err(WireError::Magic(magic));
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let length = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if length > MAX_MESSAGE {
        return Err(WireError::MessageTooLarge(length));
    }
    let count = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
    if count > MAX_BLOBS {
        return Err(WireError::TooManyBlobs(count));
    }
    let mut sizes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let mut size = [0u8; 8];
        read_exact(input, &mut size, "blob sizes")?;
        let size = u64::from_le_bytes(size);
        if size > MAX_BLOB {
            return Err(WireError::BlobTooLarge(size));
        }
        sizes.push(size);
    }
    let mut message = vec![0u8; length as usize];
    read_exact(input, &mut message, "message")?;
    let message: T =
        serde_json::from_slice(&message).map_err(|e| WireError::Message(e.to_string()))?;
    let mut blobs = Vec::with_capacity(sizes.len());
    for size in sizes {
        // Grows with the bytes that arrive: a large announced size costs nothing by itself.
        let mut blob = Vec::new();
        let got = input.by_ref().take(size).read_to_end(&mut blob)? as u64;
        if got != size {
            return Err(WireError::Truncated {
                what: "blob",
                expected: size - got,
            });
        }
        blobs.push(blob);
    }
    Ok(Frame { message, blobs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(frame: &Frame<Request>) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, frame).unwrap();
        bytes
    }

    #[test]
    fn frames_round_trip() {
        let frame = Frame::with_blobs(
            Request::Receive {
                target: "aarch64".into(),
                backend: Some("emu".into()),
                origin: "10.0.0.1:7000".into(),
                job: Some("cg-3".into()),
                checkpoint_every_ms: None,
                stage: Some(4),
                pages_from: Some(PagesFrom {
                    node: "10.0.0.2:7000".into(),
                    guest: 7,
                }),
            },
            vec![vec![1, 2, 3], Vec::new(), vec![9; 5000]],
        );
        let bytes = encode(&frame);
        let back: Frame<Request> = read_frame(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, frame);
    }

    #[test]
    fn hostile_headers_are_errors() {
        let good = encode(&Frame::new(Request::List));
        let mut magic = good.clone();
        magic[0] = b'Y';
        assert!(matches!(
            read_frame::<Request>(&mut magic.as_slice()),
            Err(WireError::Magic(_))
        ));
        let mut version = good.clone();
        version[4] = 9;
        assert!(matches!(
            read_frame::<Request>(&mut version.as_slice()),
            Err(WireError::Version(9))
        ));
        let mut huge = good.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_frame::<Request>(&mut huge.as_slice()),
            Err(WireError::MessageTooLarge(_))
        ));
        let mut blobs = good.clone();
        blobs[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            read_frame::<Request>(&mut blobs.as_slice()),
            Err(WireError::TooManyBlobs(1000))
        ));
        // One blob announced as 1 TiB with 3 bytes sent: refused or truncated, never allocated.
        let mut big = good[..HEADER].to_vec();
        big[12..16].copy_from_slice(&1u32.to_le_bytes());
        big.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(
            read_frame::<Request>(&mut big.as_slice()),
            Err(WireError::BlobTooLarge(_))
        ));
        let mut short = good[..HEADER].to_vec();
        short[12..16].copy_from_slice(&1u32.to_le_bytes());
        short.extend_from_slice(&1000u64.to_le_bytes());
        short.extend_from_slice(&good[HEADER..]);
        short.extend_from_slice(b"abc");
        assert!(matches!(
            read_frame::<Request>(&mut short.as_slice()),
            Err(WireError::Truncated { what: "blob", .. })
        ));
        let mut not_json = good[..HEADER].to_vec();
        not_json[8..12].copy_from_slice(&3u32.to_le_bytes());
        not_json.extend_from_slice(b"{x}");
        assert!(matches!(
            read_frame::<Request>(&mut not_json.as_slice()),
            Err(WireError::Message(_))
        ));
    }

    #[test]
    fn random_and_truncated_frames_never_panic() {
        let good = encode(&Frame::with_blobs(
            Request::Run {
                target: "wasm64".into(),
                backend: None,
                args: vec!["-v".into()],
                job: None,
                checkpoint_every_ms: Some(500),
            },
            vec![vec![7; 300]],
        ));
        for cut in 0..good.len() {
            assert!(read_frame::<Request>(&mut &good[..cut]).is_err());
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % bytes.len() as u64) as usize;
                bytes[at] = (state >> 32) as u8;
            }
            let _ = read_frame::<Request>(&mut bytes.as_slice());
        }
    }
}
