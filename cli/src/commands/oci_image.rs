//! `xisa oci-image IMAGE --tag NAME`: package an image as an OCI image layout archive that
//! `podman load` reads. One layer holds the `.xisa` file; an index lists linux/amd64 and
//! linux/arm64, both pointing at that layer, since the same file runs on either host.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use xisa_format::image::Image;

use crate::commands::info::hex;
use crate::report::with_hint;

const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

#[derive(clap::Args)]
pub struct Args {
    /// The `.xisa` image to package.
    image: PathBuf,
    /// Name of the container image, e.g. `localhost/primes:latest`.
    #[arg(long)]
    tag: String,
    /// Where to write the archive (default: NAME.oci.tar, from the image's file name).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

/// A content-addressed blob of the layout.
struct Blob {
    bytes: Vec<u8>,
    digest: String,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        Blob { bytes, digest }
    }

    fn json(value: &Value) -> Blob {
        Blob::new(serde_json::to_vec(value).expect("JSON values serialise"))
    }

    fn descriptor(&self, media_type: &str) -> Value {
        json!({"mediaType": media_type, "digest": self.digest, "size": self.bytes.len()})
    }

    fn path(&self) -> String {
        format!("blobs/sha256/{}", &self.digest["sha256:".len()..])
    }
}

/// The OCI platforms an image is listed for, as (architecture, variant).
const PLATFORMS: [(&str, Option<&str>); 2] = [("amd64", None), ("arm64", Some("v8"))];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let image = Image::open(&args.image)
        .with_context(|| format!("cannot package {}", args.image.display()))?;
    check_tag(&args.tag)?;
    let file_name = args
        .image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program.xisa".into());
    let in_container = if file_name.ends_with(".xisa") {
        file_name.clone()
    } else {
        format!("{file_name}.xisa")
    };
    let bytes = std::fs::read(&args.image)
        .with_context(|| format!("cannot read {}", args.image.display()))?;
    let layer = Blob::new(layer_tar(&in_container, &bytes)?);
    let image_id = hex(&image.id());
    let targets: Vec<String> = image
        .manifest()
        .targets()
        .iter()
        .map(|t| t.to_string())
        .collect();

    let mut blobs = vec![];
    let mut manifests = vec![];
    for (architecture, variant) in PLATFORMS {
        let mut platform = json!({"architecture": architecture, "os": "linux"});
        if let Some(variant) = variant {
            platform["variant"] = json!(variant);
        }
        let mut config = platform.clone();
        config["created"] = json!("1970-01-01T00:00:00Z");
        config["config"] = json!({
            "Entrypoint": [format!("/{in_container}")],
            "Labels": {
                "run.xisa.image-id": image_id,
                "run.xisa.targets": targets.join(","),
            },
        });
        config["rootfs"] = json!({"type": "layers", "diff_ids": [layer.digest]});
        let config = Blob::json(&config);
        let manifest = Blob::json(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": config.descriptor(CONFIG_TYPE),
            "layers": [layer.descriptor(LAYER_TYPE)],
        }));
        let mut entry = manifest.descriptor(MANIFEST_TYPE);
        entry["platform"] = platform;
        manifests.push(entry);
        blobs.push(config);
        blobs.push(manifest);
    }
    let platforms = Blob::json(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": manifests,
    }));
    let mut top_entry = platforms.descriptor(INDEX_TYPE);
    top_entry["annotations"] = json!({"org.opencontainers.image.ref.name": args.tag});
    let index = json!({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [top_entry]});
    blobs.push(platforms);
    blobs.push(layer);

    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.image));
    write_layout(&output, &index, &blobs)
        .with_context(|| format!("cannot write {}", output.display()))?;
    if args.json {
        let value = json!({
            "archive": output.display().to_string(),
            "tag": args.tag,
            "entrypoint": format!("/{in_container}"),
            "platforms": PLATFORMS.iter().map(|(a, _)| format!("linux/{a}")).collect::<Vec<_>>(),
            "image_id": image_id,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "wrote {} ({} for linux/amd64 and linux/arm64, entrypoint /{in_container}); load it with `podman load -i {}`",
            output.display(),
            args.tag,
            output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn default_output(image: &Path) -> PathBuf {
    let stem = image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    image.with_file_name(format!("{stem}.oci.tar"))
}

/// A reference as container tools accept it: lowercase name components, an optional tag.
fn check_tag(tag: &str) -> anyhow::Result<()> {
    let (name, version) = match tag.rsplit_once(':') {
        Some((name, version)) if !version.contains('/') => (name, Some(version)),
        _ => (tag, None),
    };
    let name_ok = !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
    let version_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.len() <= 128
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if name_ok && version_ok {
        Ok(())
    } else {
        Err(with_hint(
            anyhow::anyhow!("--tag {tag:?} is not a valid image reference"),
            "use lowercase letters, digits, `.`, `_`, `-` and `/`, with an optional `:TAG`, e.g. localhost/primes:latest",
        ))
    }
}

/// The layer: one executable file at the root of the container's file system.
fn layer_tar(name: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, name, bytes, 0o755)?;
    builder.into_inner()
}

fn append(
    builder: &mut tar::Builder<impl std::io::Write>,
    path: &str,
    bytes: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, path, bytes)
}

fn write_layout(output: &Path, index: &Value, blobs: &[Blob]) -> std::io::Result<()> {
    let file = std::fs::File::create(output)?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
    append(
        &mut builder,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        0o644,
    )?;
    append(
        &mut builder,
        "index.json",
        &serde_json::to_vec(index).expect("JSON values serialise"),
        0o644,
    )?;
    for blob in blobs {
        append(&mut builder, &blob.path(), &blob.bytes, 0o644)?;
    }
    builder.into_inner()?.into_inner()?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_container_reference_rules() {
        for good in ["primes", "localhost/primes:latest", "a.b/c-d_e:v1.2"] {
            assert!(check_tag(good).is_ok(), "{good}");
        }
        for bad in ["", "Primes", "a//b", "primes:", "prim es", "x:y/z"] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blobs_are_named_by_their_sha256() {
        let blob = Blob::new(b"abc".to_vec());
        assert_eq!(
            blob.digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            blob.path(),
            "blobs/sha256/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(blob.descriptor(LAYER_TYPE)["size"], 3);
    }

    #[test]
    fn the_layer_holds_one_executable_file() {
        let tar = layer_tar("prog.xisa", b"image bytes").unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let header = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    header.mode().unwrap(),
                    header.size().unwrap(),
                )
            })
            .collect();
        assert_eq!(entries, vec![("prog.xisa".to_string(), 0o755, 11)]);
    }
}
