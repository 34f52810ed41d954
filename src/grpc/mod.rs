//! The gRPC edge: the generated protobuf types, one service implementation
//! per protobuf service, and the one conversion from service errors to
//! `tonic::Status`. Nothing below this module knows protobuf types.

mod account;
mod api_key;
pub mod codec;
pub mod connection;
pub mod convert;
mod credential;
pub mod deadline;
pub mod health;
pub mod overload;
pub mod request_body;
pub mod status;

pub use account::AccountServiceImpl;
pub use api_key::ApiKeyServiceImpl;
pub use credential::CredentialServiceImpl;

/// Keyward's RPCs whose answer is a stream: in flight until the stream ends.
pub const STREAMING_METHODS: &[&str] = &["/keyward.v1.AccountService/ExportAuditEvents"];

/// Code generated from `proto/keyward/v1` by `build.rs`.
#[allow(clippy::all, clippy::pedantic, unreachable_pub, missing_docs)]
pub mod pb {
    tonic::include_proto!("keyward.v1");

    /// The encoded file descriptor set of `proto/`, with comments, for server
    /// reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/keyward_descriptor.bin"));
}

/// For RPCs whose behaviour is not built yet: applies the authorization
/// table to the resource the request names (so it holds for them too), then
/// answers UNIMPLEMENTED. `resource` is None for RPCs that touch no account.
pub fn not_built(
    caller: &crate::auth::Caller,
    field: &str,
    resource: Option<&str>,
) -> crate::error::ServiceError {
    let authorized = match resource {
        None => caller.authorize_own_account(),
        Some(name) => target(caller, field, name)
            .and_then(|(account, user)| caller.authorize_user(&account, user.as_deref())),
    };
    match authorized {
        Err(denied) => denied,
        Ok(()) => crate::error::ServiceError::Unimplemented {
            method: caller.policy.method.to_owned(),
        },
    }
}

/// The account (and user) a resource name under `accounts/{account}` or
/// `users/me` lies in.
fn target(
    caller: &crate::auth::Caller,
    field: &str,
    name: &str,
) -> Result<(String, Option<String>), crate::error::ServiceError> {
    if name == "users/me" || name.starts_with("users/me/") {
        return Ok((
            caller.principal.account_id.clone(),
            caller.principal.user_id().map(str::to_owned),
        ));
    }
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() < 2 || parts[0] != "accounts" {
        return Err(crate::error::ServiceError::invalid(
            field,
            "must be a resource name under `accounts/{account}`",
        ));
    }
    let account = crate::validate::resource_id(field, parts[1])?;
    let user = match (parts.get(2), parts.get(3)) {
        (Some(&"users"), Some(user)) => Some(crate::validate::resource_id(field, user)?),
        _ => None,
    };
    Ok((account, user))
}

/// The page a list request asks for, checked by its use case after authorization.
fn page_query(page_size: i32, page_token: String) -> crate::usecases::PageQuery {
    crate::usecases::PageQuery {
        page_size,
        page_token,
    }
}

/// Every RPC the API declares, `/keyward.v1.Service/Method`, sorted, read
/// from the compiled descriptors (so tables keyed by RPC can be checked for
/// completeness).
pub fn declared_methods() -> Vec<String> {
    use prost::Message as _;
    let Ok(set) = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET) else {
        return Vec::new();
    };
    let mut methods: Vec<String> = set
        .file
        .iter()
        .filter(|f| f.package() == "keyward.v1")
        .flat_map(|f| {
            f.service.iter().flat_map(move |s| {
                s.method
                    .iter()
                    .map(move |m| format!("/{}.{}/{}", f.package(), s.name(), m.name()))
            })
        })
        .collect();
    methods.sort();
    methods
}

/// The fully-qualified names of the services Keyward serves, for health.
pub const SERVICE_NAMES: [&str; 3] = [
    pb::account_service_server::SERVICE_NAME,
    pb::credential_service_server::SERVICE_NAME,
    pb::api_key_service_server::SERVICE_NAME,
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_rpc_of_the_api_has_exactly_one_row_in_the_authorization_table() {
        let declared = super::declared_methods();
        assert_eq!(declared.len(), 47);
        let mut table: Vec<String> = crate::auth::policy::POLICIES
            .iter()
            .map(|p| p.method.to_owned())
            .collect();
        table.sort();
        assert_eq!(table, declared, "one row per declared RPC, none twice");
    }
}
