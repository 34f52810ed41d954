//! Every RPC of the three services is served and authenticated: without a
//! credential each answers the same UNAUTHENTICATED; with the operator key
//! each gets past authentication (RPCs whose behaviour is not built yet then
//! answer UNIMPLEMENTED with an ErrorInfo, never a fake success).

use tonic::Code;
use tonic_types::StatusExt;

use crate::calls::{all_methods, call_with_default_request};
use crate::helpers::{Backend, spawn_app};

on_every_backend!(
    every_rpc_refuses_anonymous_callers_with_the_same_answer,
    the_operator_key_gets_past_authentication_on_every_rpc,
);

async fn every_rpc_refuses_anonymous_callers_with_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let methods = all_methods();
    assert_eq!(methods.len(), 47, "the API declares 47 RPCs: {methods:#?}");
    for method in &methods {
        let status = call_with_default_request(&app.client, method)
            .await
            .expect_err("no RPC answers an anonymous caller");
        assert_eq!(status.code(), Code::Unauthenticated, "{method}: {status:?}");
        assert_eq!(
            status.message(),
            "the request does not carry a valid credential",
            "{method}"
        );
        let info = status
            .get_error_details()
            .error_info()
            .cloned()
            .expect("an ErrorInfo");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("UNAUTHENTICATED", "keyward")
        );
    }
}

async fn the_operator_key_gets_past_authentication_on_every_rpc(backend: Backend) {
    let app = spawn_app(backend).await;
    for method in all_methods() {
        let result = call_with_default_request(&app.operator, &method).await;
        if let Err(status) = result {
            assert_ne!(status.code(), Code::Unauthenticated, "{method}: {status:?}");
            let reason = status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone());
            assert_ne!(
                reason.as_deref(),
                Some("API_SET_NOT_ALLOWED"),
                "{method}: {status:?}"
            );
            if status.code() == Code::Unimplemented {
                assert_eq!(reason.as_deref(), Some("NOT_IMPLEMENTED"), "{method}");
            }
        }
    }
}
