//! Build script: finds the SeetaFace frontal model shipped inside the published `rustface`
//! package and copies it into `OUT_DIR`, so `src/face/detector.rs` can embed it with
//! `include_bytes!`. The model is not part of this repository (BSD-2, see rustface's LICENSE).
//!
//! Lookup order: `cargo metadata` (the `CARGO` binary that runs this build), then a scan of
//! `$CARGO_HOME/registry/src/*/rustface-*/model/`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const MODEL_FILE: &str = "seeta_fd_frontal_v1.0.bin";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    // A new rustface version shows up in the lock file.
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=TWITCHWATCH_SEETA_MODEL");

    let model = find_model(&manifest_dir).unwrap_or_else(|why| {
        panic!(
            "cannot find {MODEL_FILE} from the rustface package ({why}); \
             set TWITCHWATCH_SEETA_MODEL to its path"
        )
    });
    println!("cargo:rerun-if-changed={}", model.display());

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let dest = out_dir.join(MODEL_FILE);
    fs::copy(&model, &dest)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", model.display(), dest.display()));
}

fn find_model(manifest_dir: &Path) -> Result<PathBuf, String> {
    if let Some(p) = env::var_os("TWITCHWATCH_SEETA_MODEL") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "TWITCHWATCH_SEETA_MODEL={} is not a file",
                p.display()
            ))
        };
    }
    let via_metadata = from_metadata(manifest_dir);
    match via_metadata {
        Ok(p) => Ok(p),
        Err(meta_err) => {
            println!(
                "cargo:warning=cargo metadata did not locate rustface ({meta_err}); scanning CARGO_HOME"
            );
            from_registry_scan().map_err(|scan_err| format!("{meta_err}; {scan_err}"))
        }
    }
}

/// Asks cargo where the resolved `rustface` package lives.
fn from_metadata(manifest_dir: &Path) -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = manifest_dir.join("Cargo.toml");
    let run = |extra: &[&str]| -> Result<Vec<u8>, String> {
        let mut cmd = Command::new(&cargo);
        cmd.args(["metadata", "--format-version", "1"])
            .arg("--manifest-path")
            .arg(&manifest)
            .args(extra);
        if let Ok(target) = env::var("TARGET") {
            cmd.args(["--filter-platform", &target]);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("running cargo metadata: {e}"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "cargo metadata failed: {}",
                err.lines().last().unwrap_or("").trim()
            ))
        }
    };
    // Every dependency is already downloaded when a build script runs, so the offline
    // retry only matters where the network is off or slow.
    let stdout = run(&[]).or_else(|_| run(&["--offline"]))?;
    let meta: serde_json::Value =
        serde_json::from_slice(&stdout).map_err(|e| format!("cargo metadata JSON: {e}"))?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    for pkg in packages {
        if pkg["name"] == "rustface" {
            let manifest_path = pkg["manifest_path"]
                .as_str()
                .ok_or("rustface: no manifest_path")?;
            let model = Path::new(manifest_path)
                .parent()
                .ok_or("rustface: bad manifest_path")?
                .join("model")
                .join(MODEL_FILE);
            return if model.is_file() {
                Ok(model)
            } else {
                Err(format!("{} missing", model.display()))
            };
        }
    }
    Err("rustface not among the resolved packages".into())
}

/// Fallback: newest `rustface-*` directory holding the model under `$CARGO_HOME/registry/src`.
fn from_registry_scan() -> Result<PathBuf, String> {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let src = cargo_home.join("registry").join("src");
    let mut found = Vec::new();
    for index in fs::read_dir(&src)
        .map_err(|e| format!("{}: {e}", src.display()))?
        .flatten()
    {
        let Ok(entries) = fs::read_dir(index.path()) else {
            continue;
        };
        for pkg in entries.flatten() {
            let name = pkg.file_name().to_string_lossy().into_owned();
            if let Some(version) = name.strip_prefix("rustface-") {
                let model = pkg.path().join("model").join(MODEL_FILE);
                if model.is_file() {
                    found.push((version_key(version), model));
                }
            }
        }
    }
    found.sort();
    found
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| format!("no rustface-*/model/{MODEL_FILE} under {}", src.display()))
}

fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-'])
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}
