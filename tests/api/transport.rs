//! The HTTP/2 transport's limits, read as a client sees them.

use std::time::Duration;

use keyward::config::TransportSettings;
use keyward_store::testing::TestDatabase;

use crate::helpers::{spawn_app_with, test_settings};

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
        }
    );
    assert!(
        keyward::config::Cli::try_parse_from(["keyward", "serve", "--max-concurrent-streams", "0"])
            .is_err(),
        "a connection must be allowed at least one call"
    );
}
