//! Reading an OCI bundle: what `xisa run` is asked to do for a container's config.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::OciError;

/// Annotations under this prefix configure the runtime.
pub const PREFIX: &str = "run.xisa.";

#[derive(Debug, Deserialize, Default)]
struct Config {
    #[serde(default)]
    process: Option<Process>,
    #[serde(default)]
    root: Option<Root>,
    #[serde(default)]
    mounts: Vec<MountEntry>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Default)]
struct Process {
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    terminal: bool,
}

#[derive(Debug, Deserialize)]
struct Root {
    path: PathBuf,
}

#[derive(Debug, Deserialize)]
struct MountEntry {
    destination: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    source: Option<PathBuf>,
    #[serde(default)]
    options: Vec<String>,
}

/// How one container runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The `.xisa` image on the host.
    pub image: PathBuf,
    /// Arguments after argv[0].
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// `--dir HOST:GUEST` folders: the root filesystem at `/`, then bind-mounted folders.
    pub dirs: Vec<(PathBuf, String)>,
    pub target: Option<String>,
    pub backend: Option<String>,
    pub mem: Option<String>,
    pub terminal: bool,
    pub annotations: BTreeMap<String, String>,
}

impl Plan {
    /// Reads `bundle/config.json`.
    pub fn load(bundle: &Path) -> Result<Plan, OciError> {
        let path = bundle.join("config.json");
        let text = std::fs::read(&path).map_err(|source| OciError::ReadConfig {
            path: path.clone(),
            source,
        })?;
        let config: Config =
            serde_json::from_slice(&text).map_err(|source| OciError::ParseConfig {
                path: path.clone(),
                source,
            })?;
        plan(config, bundle)
    }
}

fn plan(config: Config, bundle: &Path) -> Result<Plan, OciError> {
    let process = config.process.unwrap_or_default();
    let rootfs = match config.root {
        Some(root) if root.path.is_absolute() => root.path,
        Some(root) => bundle.join(root.path),
        None => bundle.join("rootfs"),
    };
    let first = process.args.first().ok_or(OciError::NoArgs)?;
    let image = rootfs.join(first.trim_start_matches('/'));
    if !first.ends_with(".xisa") || !image.is_file() {
        return Err(OciError::MissingImage(first.clone(), rootfs));
    }
    let mut dirs = vec![(rootfs, "/".to_string())];
    for mount in config.mounts {
        let is_bind = mount.kind.as_deref() == Some("bind")
            || mount.options.iter().any(|o| o == "bind" || o == "rbind");
        let special = ["/proc", "/sys", "/dev"]
            .iter()
            .any(|p| mount.destination == *p || mount.destination.starts_with(&format!("{p}/")));
        match mount.source {
            Some(source) if is_bind && !special && source.is_dir() => {
                dirs.push((source, mount.destination));
            }
            _ => {}
        }
    }
    let mut target = None;
    let mut backend = None;
    let mut mem = None;
    for (key, value) in &config.annotations {
        let Some(name) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let bad = |reason: &str| OciError::BadAnnotation {
            key: key.clone(),
            value: value.clone(),
            reason: reason.into(),
        };
        match name {
            "target" => {
                if !["x86_64", "aarch64", "wasm64"].contains(&value.as_str()) {
                    return Err(bad("not one of x86_64, aarch64, wasm64"));
                }
                target = Some(value.clone());
            }
            "backend" => {
                if !["kvm", "emu", "process"].contains(&value.as_str()) {
                    return Err(bad("not one of kvm, emu, process"));
                }
                backend = Some(value.clone());
            }
            "mem" => mem = Some(value.clone()),
            _ => return Err(OciError::UnknownAnnotation(key.clone())),
        }
    }
    Ok(Plan {
        image,
        args: process.args[1..].to_vec(),
        env: process.env,
        cwd: process.cwd.unwrap_or_else(|| "/".into()),
        dirs,
        target,
        backend,
        mem,
        terminal: process.terminal,
        annotations: config.annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(config: &str) -> (tempfile::TempDir, Result<Plan, OciError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("rootfs/data")).unwrap();
        std::fs::write(dir.path().join("rootfs/prog.xisa"), b"x").unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let plan = Plan::load(dir.path());
        (dir, plan)
    }

    #[test]
    fn args_env_and_bind_mounts_become_the_guest_setup() {
        let data = tempfile::tempdir().unwrap();
        let config = format!(
            r#"{{"process":{{"args":["/prog.xisa","a","b"],"env":["K=V"],"cwd":"/"}},
               "root":{{"path":"rootfs"}},
               "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},
                         {{"destination":"/data","type":"bind","source":"{}","options":["rbind"]}},
                         {{"destination":"/dev/shm","type":"bind","source":"{}"}}],
               "annotations":{{"run.xisa.target":"aarch64","org.other":"x"}}}}"#,
            data.path().display(),
            data.path().display()
        );
        let (dir, plan) = bundle(&config);
        let plan = plan.unwrap();
        assert_eq!(plan.image, dir.path().join("rootfs/prog.xisa"));
        assert_eq!(plan.args, ["a", "b"]);
        assert_eq!(plan.env, ["K=V"]);
        assert_eq!(plan.target.as_deref(), Some("aarch64"));
        assert_eq!(
            plan.dirs,
            vec![
                (dir.path().join("rootfs"), "/".to_string()),
                (data.path().to_path_buf(), "/data".to_string())
            ]
        );
    }

    #[test]
    fn unknown_xisa_annotations_are_refused() {
        let (_dir, plan) = bundle(
            r#"{"process":{"args":["/prog.xisa"]},"annotations":{"run.xisa.colour":"red"}}"#,
        );
        assert!(matches!(plan, Err(OciError::UnknownAnnotation(k)) if k == "run.xisa.colour"));
        let (_dir, plan) = bundle(
            r#"{"process":{"args":["/prog.xisa"]},"annotations":{"run.xisa.target":"mips"}}"#,
        );
        assert!(matches!(plan, Err(OciError::BadAnnotation { .. })));
    }

    #[test]
    fn bad_bundles_and_missing_images_are_errors() {
        let (_dir, plan) = bundle("{not json");
        assert!(matches!(plan, Err(OciError::ParseConfig { .. })));
        let (_dir, plan) = bundle(r#"{"process":{"args":["/missing.xisa"]}}"#);
        assert!(matches!(plan, Err(OciError::MissingImage(..))));
        let (_dir, plan) = bundle(r#"{"process":{"args":[]}}"#);
        assert!(matches!(plan, Err(OciError::NoArgs)));
        let missing = Plan::load(Path::new("/nonexistent-bundle"));
        assert!(matches!(missing, Err(OciError::ReadConfig { .. })));
    }
}
