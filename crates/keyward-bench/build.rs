//! Compiles `proto/echo.proto` (the echo baseline's service) with protox and
//! tonic-prost-build, as the workspace's other build scripts do: no system `protoc`.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = Path::new("proto");
    let file = proto_root.join("echo.proto");
    println!("cargo::rerun-if-changed={}", file.display());
    let fds = protox::compile([&file], [proto_root])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        // `bytes::Bytes` fields: the server clones one prepared payload per answer.
        .bytes(".")
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}
