//! Metrics: `--metrics-listen` serves the Prometheus text format at `/metrics`, with the
//! series the README's operations section lists.

use std::net::SocketAddr;

use keyward_client::proto as pb;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Backend, TestDatabase, spawn_app_with, test_settings};

/// `GET path` over HTTP/1.1 to `addr`: the status line and the body.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("sent");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

/// The value of the first sample of `series` (name and labels as rendered) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
}

#[tokio::test]
async fn a_scrape_shows_calls_decisions_the_index_argon2_and_the_pool() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let mut settings = test_settings(&database);
    settings.metrics_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let app = spawn_app_with(database, settings).await;
    let key = app.operator_key.clone().expect("a bootstrap key");
    let metrics = app.metrics_addr.expect("a metrics address");
    let operator = &app.operator;
    for _ in 0..2 {
        let valid = operator
            .verify_api_key(
                &key,
                keyward_client::Scope::any().api_set("apiSets/keyward.verify"),
            )
            .await
            .expect("verify");
        assert!(valid.valid);
    }
    let invalid = operator
        .verify_api_key("kw_ak_not-a-key", keyward_client::Scope::any())
        .await
        .expect("verify");
    assert!(!invalid.valid);
    let refused = app
        .client
        .api_keys()
        .list_api_sets(pb::ListApiSetsRequest::default())
        .await
        .expect_err("no credential");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let (status, text) = get(metrics, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    let verify = "method=\"keyward.v1.ApiKeyService/VerifyApiKey\"";
    let ok = sample(
        &text,
        &format!("keyward_rpc_requests_total{{{verify},code=\"OK\"}}"),
    );
    assert!(ok.is_some_and(|n| n >= 3.0), "{ok:?}\n{text}");
    let unauthenticated = sample(
        &text,
        "keyward_rpc_requests_total{method=\"keyward.v1.ApiKeyService/ListApiSets\",code=\"UNAUTHENTICATED\"}",
    );
    assert!(unauthenticated.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        text.contains(&format!(
            "keyward_rpc_duration_seconds_bucket{{{verify},le=\"0.001\"}}"
        )),
        "{text}"
    );
    for (reason, at_least) in [("VALID", 2.0), ("REASON_INVALID", 1.0)] {
        let counted = sample(
            &text,
            &format!(
                "keyward_verification_decisions_total{{rpc=\"VerifyApiKey\",reason=\"{reason}\"}}"
            ),
        );
        assert!(counted.is_some_and(|n| n >= at_least), "{reason}: {text}");
    }
    for gauge in [
        "keyward_index_facts",
        "keyward_index_proven_secrets",
        "keyward_index_loads_total",
        "keyward_index_filtered_total",
        "keyward_index_changes_applied_total",
        "keyward_index_trusted",
        "keyward_index_staleness_seconds",
        "keyward_argon2_running",
        "keyward_argon2_queued",
        "keyward_argon2_runs_total",
        "keyward_argon2_shed_total",
        "keyward_db_pool_connections",
        "keyward_db_pool_idle_connections",
        "keyward_calls_in_flight",
        "keyward_calls_limit",
        "keyward_request_body_bytes_buffered",
        "keyward_request_body_bytes_limit",
    ] {
        assert!(
            sample(&text, gauge).is_some(),
            "{gauge} missing from the scrape:\n{text}"
        );
    }
    assert!(sample(&text, "keyward_argon2_runs_total").is_some_and(|n| n >= 1.0));
    assert!(!text.contains(&key), "no secret in the metrics");

    let (status, _) = get(metrics, "/elsewhere").await;
    assert!(status.contains("404"), "{status}");
}
