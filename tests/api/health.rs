//! The standard gRPC health protocol: SERVING once migrations ran,
//! NOT_SERVING while the database is unreachable and during shutdown.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::{Backend, spawn_app, spawn_app_with, test_settings};

const SERVICES: [&str; 4] = [
    "",
    "keyward.v1.AccountService",
    "keyward.v1.CredentialService",
    "keyward.v1.ApiKeyService",
];

on_every_backend!(
    health_answers_serving_for_the_server_and_each_service,
    health_says_not_found_for_an_unknown_service,
    shutdown_tells_watchers_not_serving_and_then_drains,
    a_restarted_server_reuses_the_migrated_database,
);

async fn health_answers_serving_for_the_server_and_each_service(backend: Backend) {
    let app = spawn_app(backend).await;
    for service in SERVICES {
        let response = app
            .health()
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap_or_else(|s| panic!("{backend:?}: health check of {service:?} failed: {s:?}"));
        assert_eq!(
            response.into_inner().status(),
            ServingStatus::Serving,
            "{backend:?}: {service:?} should be SERVING"
        );
    }
}

async fn health_says_not_found_for_an_unknown_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let status = app
        .health()
        .check(HealthCheckRequest {
            service: "keyward.v1.NoSuchService".to_owned(),
        })
        .await
        .expect_err("an unknown service has no health");
    assert_eq!(status.code(), Code::NotFound);
}

async fn shutdown_tells_watchers_not_serving_and_then_drains(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut watch = app
        .health()
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch starts")
        .into_inner();
    let first = watch.next().await.expect("a first status").expect("ok");
    assert_eq!(first.status(), ServingStatus::Serving);

    let stopped = tokio::spawn(app.stop());
    let next = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("a status change within 10 s")
        .expect("the stream goes on")
        .expect("ok");
    assert_eq!(next.status(), ServingStatus::NotServing);
    // The watch call is the last one in flight; ending it lets the server drain.
    drop(watch);
    stopped
        .await
        .expect("the stop task does not panic")
        .expect("the server stops cleanly");
}

async fn a_restarted_server_reuses_the_migrated_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app
        .operator_key
        .clone()
        .expect("the first start hands out the operator key");
    assert!(key.starts_with("kw_ak_"), "a Keyward API key");
    let database = app.stop().await.expect("the first server stops cleanly");
    let settings = test_settings(&database);
    let app = spawn_app_with(database, settings).await;
    assert_eq!(
        app.operator_key, None,
        "the operator key is handed out once, never again"
    );
    let still_valid = app.client_with_key(&key).await;
    let accounts = still_valid
        .accounts()
        .list_accounts(keyward_client::proto::ListAccountsRequest::default())
        .await
        .expect("the first key still works after a restart")
        .into_inner();
    assert_eq!(accounts.accounts[0].name, "accounts/operator");
    let response = app
        .health()
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers");
    assert_eq!(response.into_inner().status(), ServingStatus::Serving);
}

#[cfg(keyward_test_postgres)]
mod outage {
    use super::*;
    use crate::helpers::TestDatabase;

    /// PostgreSQL only: the database can be taken away under a running server.
    #[tokio::test]
    async fn health_turns_not_serving_while_the_database_is_unreachable() {
        let database = TestDatabase::create(Backend::Postgres).await;
        let mut settings = test_settings(&database);
        settings.health_interval = Duration::from_millis(100);
        let app = spawn_app_with(database, settings).await;
        let mut watch = app
            .health()
            .watch(HealthCheckRequest::default())
            .await
            .expect("watch starts")
            .into_inner();
        let first = watch.next().await.expect("a status").expect("ok");
        assert_eq!(first.status(), ServingStatus::Serving);

        app.database().drop_now().await;
        let down = tokio::time::timeout(Duration::from_secs(15), watch.next())
            .await
            .expect("NOT_SERVING within 15 s")
            .expect("stream goes on")
            .expect("ok");
        assert_eq!(down.status(), ServingStatus::NotServing);

        app.database().restore().await;
        let up = tokio::time::timeout(Duration::from_secs(15), watch.next())
            .await
            .expect("SERVING again within 15 s")
            .expect("stream goes on")
            .expect("ok");
        assert_eq!(up.status(), ServingStatus::Serving);
    }
}
