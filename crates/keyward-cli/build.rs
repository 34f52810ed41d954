//! Turns `KEYWARD_TEST_POSTGRES_URL` into `cfg(keyward_test_postgres)`, so that
//! `tests/cli.rs` also runs every test on PostgreSQL when a server is given, as the
//! workspace's `tests/api` does.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(keyward_test_postgres)");
    println!("cargo::rerun-if-env-changed=KEYWARD_TEST_POSTGRES_URL");
    if std::env::var_os("KEYWARD_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=keyward_test_postgres");
    }
}
