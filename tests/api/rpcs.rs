//! Every RPC of the three services is served; those whose behaviour is not
//! built yet answer UNIMPLEMENTED with an ErrorInfo, never a fake success.

use tonic::Code;
use tonic_types::StatusExt;

use crate::calls::{all_methods, call_with_default_request};
use crate::helpers::{Backend, spawn_app};

on_every_backend!(every_rpc_not_built_yet_answers_unimplemented_with_error_info);

async fn every_rpc_not_built_yet_answers_unimplemented_with_error_info(backend: Backend) {
    let app = spawn_app(backend).await;
    let methods = all_methods();
    assert_eq!(methods.len(), 40, "the API declares 40 RPCs: {methods:#?}");
    for method in &methods {
        let status = call_with_default_request(&app.client, method)
            .await
            .expect_err("no RPC may answer OK yet");
        assert_eq!(status.code(), Code::Unimplemented, "{method}: {status:?}");
        assert_eq!(status.message(), format!("{method} is not implemented yet"));
        let info = status
            .get_error_details()
            .error_info()
            .cloned()
            .unwrap_or_else(|| panic!("{method}: no ErrorInfo in {status:?}"));
        assert_eq!(info.reason, "NOT_IMPLEMENTED", "{method}");
        assert_eq!(info.domain, "keyward", "{method}");
        assert_eq!(info.metadata.get("method"), Some(method), "{method}");
    }
}
