//! Server reflection in both protocol versions: `v1alpha` (what grpcurl 1.8
//! speaks) and `v1`. Lists every service and resolves the symbols grpcurl
//! needs, including `google.rpc.ErrorInfo` for printing error details.

use prost::Message;
use prost_types::FileDescriptorProto;
use tokio_stream::StreamExt;

use crate::helpers::{Backend, TestApp, spawn_app};

const EXPECTED_SERVICES: [&str; 6] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "keyward.v1.AccountService",
    "keyward.v1.ApiKeyService",
    "keyward.v1.CredentialService",
];

/// What a reflection answer holds, whichever protocol version gave it.
enum Answer {
    Services(Vec<String>),
    Files(Vec<FileDescriptorProto>),
    Error(i32, String),
}

/// Asks one reflection question in protocol version `$v` (`v1` or `v1alpha`).
macro_rules! ask {
    ($v:ident, $app:expr, $request:expr) => {{
        use tonic_reflection::pb::$v::ServerReflectionRequest;
        use tonic_reflection::pb::$v::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$v::server_reflection_response::MessageResponse;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some($request),
        };
        let mut responses = ServerReflectionClient::new($app.client.channel())
            .server_reflection_info(tokio_stream::once(request))
            .await
            .expect("reflection answers")
            .into_inner();
        match responses.next().await.expect("one response") {
            Err(status) => Answer::Error(status.code() as i32, status.message().to_owned()),
            Ok(response) => match response.message_response.expect("a message") {
                MessageResponse::ListServicesResponse(list) => {
                    Answer::Services(list.service.into_iter().map(|s| s.name).collect())
                }
                MessageResponse::FileDescriptorResponse(files) => Answer::Files(
                    files
                        .file_descriptor_proto
                        .iter()
                        .map(|bytes| {
                            FileDescriptorProto::decode(bytes.as_slice()).expect("decodes")
                        })
                        .collect(),
                ),
                MessageResponse::ErrorResponse(e) => Answer::Error(e.error_code, e.error_message),
                other => panic!("unexpected reflection answer {other:?}"),
            },
        }
    }};
}

macro_rules! list_services {
    ($v:ident, $app:expr) => {{
        use tonic_reflection::pb::$v::server_reflection_request::MessageRequest;
        match ask!($v, $app, MessageRequest::ListServices(String::new())) {
            Answer::Services(mut names) => {
                names.sort();
                names
            }
            _ => panic!("list_services answered something else"),
        }
    }};
}

macro_rules! file_containing {
    ($v:ident, $app:expr, $symbol:expr) => {{
        use tonic_reflection::pb::$v::server_reflection_request::MessageRequest;
        match ask!(
            $v,
            $app,
            MessageRequest::FileContainingSymbol($symbol.to_owned())
        ) {
            Answer::Files(files) => Ok(files),
            Answer::Error(code, message) => Err((code, message)),
            Answer::Services(_) => panic!("file_containing_symbol answered a service list"),
        }
    }};
}

on_every_backend!(
    reflection_v1alpha_lists_every_service,
    reflection_v1_lists_every_service,
    reflection_serves_doc_comments_for_describe,
    reflection_resolves_error_detail_types_for_grpcurl,
    reflection_says_not_found_for_an_unknown_symbol,
);

async fn reflection_v1alpha_lists_every_service(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(list_services!(v1alpha, app), EXPECTED_SERVICES);
}

async fn reflection_v1_lists_every_service(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(list_services!(v1, app), EXPECTED_SERVICES);
}

fn comments_of(files: &[FileDescriptorProto]) -> String {
    files
        .iter()
        .filter_map(|f| f.source_code_info.as_ref())
        .flat_map(|info| info.location.iter())
        .filter_map(|l| l.leading_comments.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn reflection_serves_doc_comments_for_describe(backend: Backend) {
    let app: TestApp = spawn_app(backend).await;
    let files = file_containing!(v1alpha, app, "keyward.v1.CredentialService")
        .expect("the credential service is described");
    let file = files
        .iter()
        .find(|f| f.name() == "keyward/v1/credential_service.proto")
        .expect("the file that declares the service comes back");
    assert_eq!(file.service[0].name(), "CredentialService");
    let comments = comments_of(&files);
    assert!(
        comments.contains("API client credentials: a Client ID and a Client Secret"),
        "describe should show the service's doc comment, got: {comments}"
    );
    assert!(comments.contains("Generates a new secret for a credential"));
}

async fn reflection_resolves_error_detail_types_for_grpcurl(backend: Backend) {
    let app = spawn_app(backend).await;
    for symbol in ["google.rpc.ErrorInfo", "google.rpc.BadRequest"] {
        for files in [
            file_containing!(v1alpha, app, symbol),
            file_containing!(v1, app, symbol),
        ] {
            let files = files.unwrap_or_else(|e| panic!("{symbol} is not resolvable: {e:?}"));
            assert!(
                files.iter().any(|f| f.package() == "google.rpc"),
                "{symbol} resolves to a google.rpc file"
            );
        }
    }
}

async fn reflection_says_not_found_for_an_unknown_symbol(backend: Backend) {
    let app = spawn_app(backend).await;
    let error = file_containing!(v1alpha, app, "keyward.v1.Nope").expect_err("unknown symbol");
    assert_eq!(error.0, tonic::Code::NotFound as i32, "{error:?}");
}
