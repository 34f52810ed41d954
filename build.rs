//! Compiles `proto/` into the server's gRPC stubs and the file descriptor set
//! that server reflection serves. Uses protox, so no system `protoc` is needed.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = Path::new("proto");
    let mut files = Vec::new();
    collect_protos(&proto_root.join("keyward"), &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    println!("cargo::rerun-if-changed={}", proto_root.display());

    // Keep comments (source info): reflection hands them to grpcurl `describe`.
    let fds = protox::compile(&files, [proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("keyward_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;

    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        // Malformed request bodies answer INVALID_ARGUMENT, not INTERNAL (src/grpc/codec.rs).
        .codec_path("crate::grpc::codec::KeywardCodec")
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;

    // grpc.health.v1 with the same codec, over tonic-health's message types, so that a
    // malformed health request is INVALID_ARGUMENT too (src/grpc/health.rs).
    let codec = "crate::grpc::codec::KeywardCodec";
    let method = |name: &str, route: &str| {
        tonic_build::manual::Method::builder()
            .name(name)
            .route_name(route)
            .input_type("::tonic_health::pb::HealthCheckRequest")
            .output_type("::tonic_health::pb::HealthCheckResponse")
            .codec_path(codec)
    };
    let health = tonic_build::manual::Service::builder()
        .name("Health")
        .package("grpc.health.v1")
        .method(method("check", "Check").build())
        .method(method("watch", "Watch").server_streaming().build())
        .build();
    tonic_build::manual::Builder::new()
        .build_client(false)
        .build_server(true)
        .compile(&[health]);

    // The integration tests run against PostgreSQL as well when a server URL is given at
    // build time: `on_every_backend!` (crates/keyward-store/src/testing.rs) decides that for
    // itself; this cfg is for the tests in tests/api that run on PostgreSQL only.
    println!("cargo::rustc-check-cfg=cfg(keyward_test_postgres)");
    println!("cargo::rerun-if-env-changed=KEYWARD_TEST_POSTGRES_URL");
    if std::env::var_os("KEYWARD_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=keyward_test_postgres");
    }
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
