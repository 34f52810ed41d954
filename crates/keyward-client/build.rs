//! Compiles the workspace's `proto/` into client stubs only, with protox (no
//! system `protoc`), so this crate depends on neither the server nor the store.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = Path::new("../../proto");
    let dir = proto_root.join("keyward/v1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "proto"));
    files.sort();
    println!("cargo::rerun-if-changed={}", dir.display());
    for file in &files {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    let fds = protox::compile(&files, [proto_root])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}
