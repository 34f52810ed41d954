//! Turns `KEYWARD_TEST_POSTGRES_URL` into `cfg(keyward_test_postgres)`, which decides
//! whether `on_every_backend!` (src/testing.rs) declares PostgreSQL tests too, for every
//! crate that uses it.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(keyward_test_postgres)");
    println!("cargo::rerun-if-env-changed=KEYWARD_TEST_POSTGRES_URL");
    if std::env::var_os("KEYWARD_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=keyward_test_postgres");
    }
}
