//! The HTTP/2 transport's limits, read as a client sees them.

use std::time::Duration;

use keyward::config::TransportSettings;
use keyward_store::testing::TestDatabase;

use crate::helpers::{raw_connection, spawn_app_with, test_settings};

/// Connects a raw HTTP/2 client to `url` and returns the number of concurrent streams the
/// server's SETTINGS allow it.
async fn announced_max_streams(url: &str) -> usize {
    let addr = url.trim_start_matches("http://");
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (_client, mut connection) = h2::client::handshake(tcp).await.expect("handshake");
    // The server's SETTINGS come first on the connection: once a ping is answered, they
    // have been read.
    let mut ping = connection.ping_pong().expect("a ping handle");
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            pong = ping.ping(h2::Ping::opaque()) => pong.expect("the ping is answered"),
            closed = &mut connection => panic!("the connection ended: {closed:?}"),
        }
    })
    .await
    .expect("the ping is answered in time");
    connection.max_concurrent_send_streams()
}

#[tokio::test]
async fn each_connection_is_told_how_many_calls_it_may_have_in_flight() {
    let database = TestDatabase::sqlite();
    let settings = test_settings(&database);
    assert_eq!(
        settings.transport.max_concurrent_streams, 256,
        "the default"
    );
    let app = spawn_app_with(database, settings).await;
    assert_eq!(announced_max_streams(&app.url).await, 256);

    let database = TestDatabase::sqlite();
    let mut settings = test_settings(&database);
    settings.transport = TransportSettings {
        max_concurrent_streams: 37,
        ..TransportSettings::default()
    };
    let app = spawn_app_with(database, settings).await;
    assert_eq!(announced_max_streams(&app.url).await, 37);
}

#[test]
fn the_flags_set_the_limits_and_zero_turns_keepalive_off() {
    use clap::Parser;
    let settings = |args: &[&str]| {
        let cli =
            keyward::config::Cli::try_parse_from(["keyward", "serve"].iter().chain(args).copied())
                .expect("the flags parse");
        match cli.command {
            keyward::config::Command::Serve(serve) => serve.settings().transport,
            other => panic!("not serve: {other:?}"),
        }
    };
    assert_eq!(settings(&[]), TransportSettings::default());
    assert_eq!(
        settings(&["--max-concurrent-streams", "64", "--keepalive-secs", "0"]),
        TransportSettings {
            max_concurrent_streams: 64,
            keepalive: None,
            ..TransportSettings::default()
        }
    );
    assert_eq!(
        settings(&["--max-concurrent-calls", "10"]).max_concurrent_calls,
        10
    );
    assert_eq!(
        settings(&[
            "--idle-timeout-secs",
            "30",
            "--body-timeout-secs",
            "2",
            "--max-header-list-bytes",
            "8192"
        ]),
        TransportSettings {
            idle_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(2),
            max_header_list_bytes: 8192,
            ..TransportSettings::default()
        }
    );
    assert_eq!(
        settings(&[
            "--max-message-bytes",
            "65536",
            "--max-buffered-request-bytes",
            "1048576"
        ]),
        TransportSettings {
            max_message_bytes: 65_536,
            max_buffered_request_bytes: 1_048_576,
            ..TransportSettings::default()
        }
    );
    assert!(
        keyward::config::Cli::try_parse_from(["keyward", "serve", "--max-message-bytes", "100"])
            .is_err(),
        "a message limit below 1 KiB would refuse ordinary requests"
    );
    assert!(
        keyward::config::Cli::try_parse_from(["keyward", "serve", "--idle-timeout-secs", "0"])
            .is_err(),
        "an idle timeout of nothing would close every connection at once"
    );
    let serve = |args: &[&str]| match keyward::config::Cli::try_parse_from(
        ["keyward", "serve"].iter().chain(args).copied(),
    )
    .expect("the flags parse")
    .command
    {
        keyward::config::Command::Serve(serve) => serve.settings(),
        other => panic!("not serve: {other:?}"),
    };
    let tls = serve(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).tls;
    assert_eq!(
        tls,
        Some(keyward::config::TlsFiles {
            cert: "c.pem".into(),
            key: "k.pem".into(),
            client_ca: None,
        })
    );
    assert!(serve(&["--insecure-plaintext"]).insecure_plaintext);
    for half in [
        &["--tls-cert", "c.pem"][..],
        &["--tls-key", "k.pem"],
        &["--tls-client-ca", "ca.pem"],
        &[
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--insecure-plaintext",
        ],
    ] {
        assert!(
            keyward::config::Cli::try_parse_from(["keyward", "serve"].iter().chain(half).copied())
                .is_err(),
            "{half:?}"
        );
    }
    assert!(
        keyward::config::Cli::try_parse_from(["keyward", "serve", "--max-concurrent-calls", "0"])
            .is_err(),
        "the server must be allowed at least one call"
    );
    assert!(
        keyward::config::Cli::try_parse_from(["keyward", "serve", "--max-concurrent-streams", "0"])
            .is_err(),
        "a connection must be allowed at least one call"
    );
}

/// Sends one gRPC frame holding `message` to `path` over a raw HTTP/2 connection, and
/// returns the answer's `grpc-status` and `grpc-message` (from the headers of a
/// trailers-only answer, or from the trailers).
async fn raw_call(url: &str, path: &str, bearer: &str, message: &[u8]) -> (String, String) {
    raw_call_with(url, path, bearer, &[], message).await
}

/// As [`raw_call`], with more request headers.
async fn raw_call_with(
    url: &str,
    path: &str,
    bearer: &str,
    headers: &[(&str, &str)],
    message: &[u8],
) -> (String, String) {
    let addr = url.trim_start_matches("http://");
    let (mut client, driver) = raw_connection(url).await;
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {bearer}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut frame = vec![0_u8];
    frame.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(message);
    let answer = send_raw(&mut client, request, &frame).await;
    driver.abort();
    answer
}

/// Sends `request` with exactly `bytes` as its body (no gRPC framing added) and returns
/// the answer's `grpc-status` and `grpc-message`.
async fn send_raw(
    client: &mut h2::client::SendRequest<bytes::Bytes>,
    request: http::request::Builder,
    bytes: &[u8],
) -> (String, String) {
    let request = request.body(()).expect("a request");
    let (response, mut body) = client
        .send_request(request, bytes.is_empty())
        .expect("sent");
    if !bytes.is_empty() {
        body.send_data(bytes.to_vec().into(), true)
            .expect("body sent");
    }
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("answered in time")
        .expect("an answer");
    let headers = response.headers().clone();
    let mut answer = response.into_body();
    while let Some(chunk) = answer.data().await {
        let chunk = chunk.expect("a chunk");
        let _ = answer.flow_control().release_capacity(chunk.len());
    }
    let trailers = answer
        .trailers()
        .await
        .expect("trailers")
        .unwrap_or_default();
    let field = |name: &str| {
        trailers
            .get(name)
            .or_else(|| headers.get(name))
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default()
    };
    (
        field("grpc-status"),
        percent_decoded(&field("grpc-message")),
    )
}

/// `grpc-message` is percent-encoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test]
async fn a_malformed_request_body_is_invalid_argument_not_internal() {
    let app = crate::helpers::spawn_app(keyward_store::testing::TestBackend::Sqlite).await;
    let key = app.operator_key.clone().expect("the operator key");
    for (path, body) in [
        (
            "/keyward.v1.ApiKeyService/VerifyApiKey",
            &[0xff_u8, 0xff, 0xff][..],
        ),
        (
            "/keyward.v1.AccountService/ListAccounts",
            &[0x0a_u8, 0x05, 0x61][..],
        ),
    ] {
        let (status, message) = raw_call(&app.url, path, &key, body).await;
        assert_eq!(
            status, "3",
            "{path}: INVALID_ARGUMENT, not INTERNAL ({message})"
        );
        let type_name = path.rsplit('/').next().expect("a method");
        assert!(
            message.contains(&format!(
                "is not a valid {type_name}Request protobuf message"
            )),
            "{path}: {message}"
        );
    }
}

#[tokio::test]
async fn a_deadline_that_passes_answers_deadline_exceeded_and_writes_nothing() {
    use keyward_client::proto as pb;
    use prost::Message as _;

    let app = crate::helpers::spawn_app(keyward_store::testing::TestBackend::Sqlite).await;
    let key = app.operator_key.clone().expect("the operator key");
    let create = pb::CreateApiKeyRequest {
        parent: "users/me".into(),
        api_key: Some(pb::ApiKey {
            display_name: "late".into(),
            api_sets: vec!["apiSets/keyward.verify".into()],
            ..Default::default()
        }),
        ttl: None,
        request_id: String::new(),
    };
    // Over raw HTTP/2: tonic's client would enforce the deadline itself and never show
    // the server's answer.
    let (status, message) = raw_call_with(
        &app.url,
        "/keyward.v1.ApiKeyService/CreateApiKey",
        &key,
        &[("grpc-timeout", "1m")],
        &create.encode_to_vec(),
    )
    .await;
    assert_eq!(status, "4", "DEADLINE_EXCEEDED, not CANCELLED: {message}");
    assert!(message.contains("deadline"), "{message}");
    let listed = app
        .operator
        .api_keys()
        .list_api_keys(pb::ListApiKeysRequest {
            parent: "users/me".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .api_keys;
    assert!(
        listed.iter().all(|key| key.display_name != "late"),
        "nothing written: {listed:?}"
    );

    let (status, message) = raw_call_with(
        &app.url,
        "/keyward.v1.ApiKeyService/CreateApiKey",
        &key,
        &[("grpc-timeout", "30S")],
        &create.encode_to_vec(),
    )
    .await;
    assert_eq!(status, "0", "within its deadline: {message}");
}

#[tokio::test]
async fn calls_beyond_the_server_limit_are_refused_at_once_and_health_still_answers() {
    use keyward_client::proto as pb;
    use prost::Message as _;

    let database = TestDatabase::sqlite();
    let mut settings = test_settings(&database);
    settings.transport = TransportSettings {
        max_concurrent_calls: 1,
        ..TransportSettings::default()
    };
    let app = spawn_app_with(database, settings).await;
    let key = app.operator_key.clone().expect("the operator key");

    // One call in flight: its headers are sent, its body never is.
    let addr = app.url.trim_start_matches("http://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connects");
    let (client, connection) = h2::client::handshake(tcp).await.expect("handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let held = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{addr}/keyward.v1.AccountService/ListAccounts"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {key}"))
        .body(())
        .expect("a request");
    let (_held_response, held_body) = client.send_request(held, false).expect("sent");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let list = pb::ListAccountsRequest::default().encode_to_vec();
    let (status, message) = raw_call(
        &app.url,
        "/keyward.v1.AccountService/ListAccounts",
        &key,
        &list,
    )
    .await;
    assert_eq!(status, "8", "RESOURCE_EXHAUSTED: {message}");
    assert!(message.contains("retry shortly"), "{message}");
    let health = tonic_health::pb::health_client::HealthClient::new(app.client.channel())
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await;
    assert!(health.is_ok(), "health is never refused: {health:?}");

    // The held call ends: the next one is served.
    drop(held_body);
    driver.abort();
    let mut served = false;
    for _ in 0..50 {
        let (status, _) = raw_call(
            &app.url,
            "/keyward.v1.AccountService/ListAccounts",
            &key,
            &list,
        )
        .await;
        if status == "0" {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the slot comes back when the held call ends");
}

/// A ListAccounts request's headers, with `extra` headers.
fn list_accounts(url: &str, key: &str, extra: &[(&str, &str)]) -> http::Request<()> {
    let addr = url.trim_start_matches("http://");
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{addr}/keyward.v1.AccountService/ListAccounts"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {key}"));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(()).expect("a request")
}

#[tokio::test]
async fn a_request_body_that_does_not_arrive_in_time_ends_the_call_with_deadline_exceeded() {
    let database = TestDatabase::sqlite();
    let mut settings = test_settings(&database);
    settings.transport = TransportSettings {
        body_timeout: Duration::from_millis(300),
        ..TransportSettings::default()
    };
    let app = spawn_app_with(database, settings).await;
    let key = app.operator_key.clone().expect("the operator key");
    let (mut client, driver) = raw_connection(&app.url).await;

    // Headers only: the body never comes.
    let started = std::time::Instant::now();
    let (response, _body) = client
        .send_request(list_accounts(&app.url, &key, &[]), false)
        .expect("sent");
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("answered, not held")
        .expect("an answer");
    let waited = started.elapsed();
    let headers = response.headers().clone();
    let mut answer = response.into_body();
    while let Some(chunk) = answer.data().await {
        let _ = chunk;
    }
    let trailers = answer.trailers().await.ok().flatten().unwrap_or_default();
    let status = trailers
        .get("grpc-status")
        .or_else(|| headers.get("grpc-status"))
        .map(|v| v.to_str().expect("ascii").to_owned());
    assert_eq!(status.as_deref(), Some("4"), "DEADLINE_EXCEEDED");
    let message = trailers
        .get("grpc-message")
        .or_else(|| headers.get("grpc-message"))
        .map(|v| percent_decoded(v.to_str().expect("ascii")))
        .unwrap_or_default();
    assert!(message.contains("request body"), "{message}");
    assert!(
        waited >= Duration::from_millis(300),
        "not before the limit: {waited:?}"
    );

    // A call whose body comes at once is not affected.
    use prost::Message as _;
    let list = keyward_client::proto::ListAccountsRequest::default().encode_to_vec();
    let (status, message) = raw_call(
        &app.url,
        "/keyward.v1.AccountService/ListAccounts",
        &key,
        &list,
    )
    .await;
    assert_eq!(status, "0", "{message}");
    driver.abort();
}

#[tokio::test]
async fn a_connection_without_calls_is_closed_and_a_busy_one_is_not() {
    use prost::Message as _;

    let database = TestDatabase::sqlite();
    let mut settings = test_settings(&database);
    settings.transport = TransportSettings {
        idle_timeout: Duration::from_millis(300),
        // Pings every 100 ms: they must not count as use.
        keepalive: Some(Duration::from_millis(100)),
        ..TransportSettings::default()
    };
    let app = spawn_app_with(database, settings).await;
    let key = app.operator_key.clone().expect("the operator key");
    let list = keyward_client::proto::ListAccountsRequest::default().encode_to_vec();

    // Opened and never used: closed within two idle periods, pings notwithstanding.
    let (_idle, idle_driver) = raw_connection(&app.url).await;
    // Used every 100 ms for a second: kept.
    let (mut busy, busy_driver) = raw_connection(&app.url).await;
    for _ in 0..10 {
        let (response, mut body) = busy
            .send_request(list_accounts(&app.url, &key, &[]), false)
            .expect("sent");
        let mut frame = vec![0_u8];
        frame.extend_from_slice(&u32::try_from(list.len()).expect("small").to_be_bytes());
        frame.extend_from_slice(&list);
        body.send_data(frame.into(), true).expect("body sent");
        let response = response.await.expect("the busy connection answers");
        assert_eq!(response.status(), http::StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(100)).await;
        busy = busy.ready().await.expect("still open");
    }
    assert!(!busy_driver.is_finished(), "a busy connection stays open");
    tokio::time::timeout(Duration::from_secs(5), idle_driver)
        .await
        .expect("the idle connection is closed")
        .expect("its driver ends cleanly");
    // Once idle, the busy one goes too.
    tokio::time::timeout(Duration::from_secs(5), busy_driver)
        .await
        .expect("the formerly busy connection is closed once idle")
        .expect("its driver ends cleanly");
}

#[tokio::test]
async fn a_header_block_beyond_the_limit_is_refused_and_the_server_carries_on() {
    use prost::Message as _;

    let database = TestDatabase::sqlite();
    let mut settings = test_settings(&database);
    settings.transport = TransportSettings {
        max_header_list_bytes: 4096,
        ..TransportSettings::default()
    };
    let app = spawn_app_with(database, settings).await;
    let key = app.operator_key.clone().expect("the operator key");
    let (mut client, driver) = raw_connection(&app.url).await;
    let big = "x".repeat(8192);
    let refused = match client.send_request(list_accounts(&app.url, &key, &[("x-big", &big)]), true)
    {
        Err(_) => true,
        Ok((response, _)) => match tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .expect("answered")
        {
            Err(_) => true,
            Ok(response) => response.status() != http::StatusCode::OK,
        },
    };
    assert!(refused, "an 8 KiB header block against a 4 KiB limit");
    driver.abort();

    let list = keyward_client::proto::ListAccountsRequest::default().encode_to_vec();
    let (status, message) = raw_call(
        &app.url,
        "/keyward.v1.AccountService/ListAccounts",
        &key,
        &list,
    )
    .await;
    assert_eq!(status, "0", "{message}");
}

#[tokio::test]
async fn grpc_framing_errors_are_the_callers_invalid_argument_never_internal() {
    use keyward_client::proto as pb;
    use prost::Message as _;

    let app = crate::helpers::spawn_app(keyward_store::testing::TestBackend::Sqlite).await;
    let key = app.operator_key.clone().expect("the operator key");
    let message = pb::ListAccountsRequest {
        page_size: 5,
        ..Default::default()
    }
    .encode_to_vec();
    let frame = |flag: u8, length: u32, payload: &[u8]| {
        let mut bytes = vec![flag];
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    };
    let len = u32::try_from(message.len()).expect("small");
    let whole = frame(0, len, &message);
    /// What is wrong, the body, extra headers, the expected grpc-status.
    type Case<'a> = (&'a str, Vec<u8>, &'a [(&'a str, &'a str)], &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("an empty body", Vec::new(), &[], "3"),
        ("a truncated prefix", whole[..3].to_vec(), &[], "3"),
        (
            "a prefix longer than the body",
            frame(0, len + 10, &message),
            &[],
            "3",
        ),
        (
            "a prefix shorter than the body",
            frame(0, len - 1, &message),
            &[],
            "3",
        ),
        ("a flag byte of 0xff", frame(0xff, len, &message), &[], "3"),
        ("a flag byte of 2", frame(2, len, &message), &[], "3"),
        (
            "a compressed flag without grpc-encoding",
            frame(1, len, &message),
            &[],
            "3",
        ),
        (
            "two messages for a unary call",
            [whole.clone(), whole.clone()].concat(),
            &[],
            "3",
        ),
        (
            "a prefix beyond the largest message",
            frame(0, 5 * 1024 * 1024, &message),
            &[],
            "11",
        ),
        (
            "an encoding the server does not speak",
            frame(1, len, &message),
            &[("grpc-encoding", "br")],
            "12",
        ),
    ];
    let addr = app.url.trim_start_matches("http://").to_owned();
    for (case, bytes, headers, expected) in cases {
        let (mut client, driver) = raw_connection(&app.url).await;
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!(
                "http://{addr}/keyward.v1.AccountService/ListAccounts"
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", format!("Bearer {key}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (status, message) = send_raw(&mut client, request, &bytes).await;
        driver.abort();
        assert_eq!(status, expected, "{case}: {message}");
    }
    // And the server is none the worse.
    let (status, message) = raw_call(
        &app.url,
        "/keyward.v1.AccountService/ListAccounts",
        &key,
        &pb::ListAccountsRequest::default().encode_to_vec(),
    )
    .await;
    assert_eq!(status, "0", "{message}");
}

#[tokio::test]
async fn messages_beyond_the_configured_size_and_bodies_beyond_the_byte_budget_are_refused() {
    use keyward_client::proto as pb;
    use prost::Message as _;

    let database = TestDatabase::sqlite();
    let mut settings = test_settings(&database);
    settings.transport = TransportSettings {
        max_message_bytes: 65_536,
        // Raised to the message limit: one such body at a time, beyond the first 16 KiB of
        // each body, which are not counted.
        max_buffered_request_bytes: 1024,
        ..TransportSettings::default()
    };
    let app = spawn_app_with(database, settings).await;
    let key = app.operator_key.clone().expect("the operator key");
    let path = "/keyward.v1.AccountService/ListAccounts";
    let request = |filter_len: usize| {
        pb::ListAccountsRequest {
            page_token: "x".repeat(filter_len),
            ..Default::default()
        }
        .encode_to_vec()
    };

    // Within the limit, the call reaches the service (whose own check judges the page token).
    let (status, message) = raw_call(&app.url, path, &key, &request(1000)).await;
    assert_ne!(status, "11", "{message}");
    assert_ne!(status, "8", "{message}");
    // Beyond it: OUT_OF_RANGE, naming both sizes.
    let (status, message) = raw_call(&app.url, path, &key, &request(70_000)).await;
    assert_eq!(status, "11", "{message}");
    let message = percent_decoded(&message);
    assert!(message.contains("65536"), "{message}");

    // One body holding most of the budget: a second large body's bytes are refused at
    // once with RESOURCE_EXHAUSTED instead of being held; a small one still passes.
    let (mut holder, holder_driver) = raw_connection(&app.url).await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let headers = || {
        http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", format!("Bearer {key}"))
            .body(())
            .expect("a request")
    };
    let (held_answer, mut held) = holder.send_request(headers(), false).expect("sent");
    let mut prefix = vec![0_u8];
    prefix.extend_from_slice(&60_000_u32.to_be_bytes());
    prefix.extend_from_slice(&[b'x'; 59_990]);
    held.send_data(prefix.into(), false)
        .expect("all but 10 bytes sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, message) = raw_call(&app.url, path, &key, &request(40_000)).await;
    assert_eq!(status, "8", "{}", percent_decoded(&message));
    assert!(
        percent_decoded(&message).contains("bytes of request bodies"),
        "{message}"
    );
    let (status, message) = raw_call(&app.url, path, &key, &request(0)).await;
    assert_eq!(status, "0", "a small request is not counted: {message}");
    // Once the held body is gone, its bytes are free again.
    held.send_reset(h2::Reason::CANCEL);
    drop(held_answer);
    holder_driver.abort();
    let mut served = false;
    for _ in 0..50 {
        let (status, _) = raw_call(&app.url, path, &key, &request(40_000)).await;
        if status != "8" {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the bytes of a dropped body are released");
}

/// A small deterministic generator (xorshift64*), so that a failing input can be replayed
/// from the printed seed and index.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).expect("small")
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

/// Inputs per RPC: over 20,000 in all, a quarter of each kind below.
const INPUTS_PER_METHOD: usize = 448;

#[tokio::test]
async fn random_and_mutated_bytes_to_every_rpc_never_answer_internal() {
    use prost::Message as _;

    let app = crate::helpers::spawn_app(keyward_store::testing::TestBackend::Sqlite).await;
    let key = app.operator_key.clone().expect("the operator key");
    // Keyward's own API and the health check (whose Watch, a stream that stays open when
    // its request is valid, is fuzzed below with inputs that cannot decode).
    let mut methods = crate::calls::all_methods();
    methods.push("/grpc.health.v1.Health/Check".to_owned());
    let seed = 0x6b65_7977_6172_6421_u64;
    let mut rng = Xorshift(seed);
    // A valid message to mutate: a ListAccountsRequest with every field set decodes as
    // something for most request types (the same field numbers, other meanings).
    let base = keyward_client::proto::ListAccountsRequest {
        page_size: 7,
        page_token: "token".into(),
    }
    .encode_to_vec();
    let frame = |payload: &[u8]| {
        let mut bytes = vec![0_u8];
        bytes.extend_from_slice(&u32::try_from(payload.len()).expect("small").to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    };
    let (mut client, driver) = raw_connection(&app.url).await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut sent = 0;
    for method in &methods {
        for index in 0..INPUTS_PER_METHOD {
            let body = match index % 4 {
                // Random bytes, framing and all.
                0 => {
                    let len = rng.below(48);
                    rng.bytes(len)
                }
                // Well framed, random payload.
                1 => {
                    let len = rng.below(64);
                    frame(&rng.bytes(len))
                }
                // The valid message with one byte changed.
                2 => {
                    let mut payload = base.clone();
                    let at = rng.below(payload.len());
                    payload[at] = rng.bytes(1)[0];
                    frame(&payload)
                }
                // The framed valid message cut short or with bytes added.
                _ => {
                    let mut bytes = frame(&base);
                    if rng.below(2) == 0 {
                        bytes.truncate(rng.below(bytes.len()));
                    } else {
                        let extra = 1 + rng.below(8);
                        bytes.extend(rng.bytes(extra));
                    }
                    bytes
                }
            };
            let request = http::Request::builder()
                .method("POST")
                .uri(format!("http://{addr}{method}"))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header("authorization", format!("Bearer {key}"));
            client = client.ready().await.expect("the connection is still up");
            let (status, message) = send_raw(&mut client, request, &body).await;
            assert!(
                !status.is_empty() && status != "13",
                "{method} input {index} (seed {seed:#x}): status {status:?}: {message}"
            );
            sent += 1;
        }
    }
    // Watch: bodies that are no HealthCheckRequest (a field of the wrong wire type, a
    // truncated varint, a string past the end) are the caller's error too.
    for payload in [
        &[0x08_u8, 0x01][..],
        &[0x0a, 0xff],
        &[0x0a, 0x05, b'a'],
        &[0xff],
    ] {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/grpc.health.v1.Health/Watch"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        client = client.ready().await.expect("the connection is still up");
        let (status, message) = send_raw(&mut client, request, &frame(payload)).await;
        assert_eq!(status, "3", "Watch {payload:?}: {message}");
    }
    driver.abort();
    assert_eq!(sent, methods.len() * INPUTS_PER_METHOD);
    assert!(sent >= 20_000, "{sent} inputs");
    let health = tonic_health::pb::health_client::HealthClient::new(app.client.channel())
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("healthy after the fuzzing")
        .into_inner();
    assert_eq!(
        health.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}
