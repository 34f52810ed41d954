//! Calls any Keyward RPC by its method name: the one table that maps method names to typed
//! client calls, shared by the tests that sweep every RPC (`rpcs.rs` with all-default
//! requests, `authorization.rs` with a request of its own for each RPC).

use std::any::Any;

use keyward_client::Client;
use keyward_client::proto as pb;

/// A request for [`call`]: a boxed message of the called RPC's request type.
pub type Request = Box<dyn Any + Send>;

/// What [`call`] answers: the boxed message of the called RPC's response type.
pub type Response = Box<dyn Any + Send>;

/// Every RPC Keyward declares, `/keyward.v1.Service/Method`, read from the
/// server's own descriptors so that a new RPC cannot be forgotten here.
pub fn all_methods() -> Vec<String> {
    keyward::grpc::declared_methods()
}

/// Calls `method` with an all-default request.
pub async fn call_with_default_request(client: &Client, method: &str) -> Result<(), tonic::Status> {
    call(client, method, None).await.map(drop)
}

/// `request` as the request type `T` of `method`, or `T`'s default.
fn request_of<T: Default + 'static>(method: &str, request: Option<Request>) -> T {
    match request {
        None => T::default(),
        Some(request) => *request
            .downcast::<T>()
            .unwrap_or_else(|_| panic!("{method} takes a {}", std::any::type_name::<T>())),
    }
}

/// Declares [`call`] over one line per RPC: `Service/Method => stub.method(RequestType)`.
macro_rules! rpcs {
    ($($service:ident / $method:ident => $stub:ident . $call:ident ( $request:ident ),)*) => {
        /// Calls `method` (`/keyward.v1.Service/Method`, or `Service/Method`) on `client`
        /// with `request`, which holds the method's request type (`None`: its default);
        /// the answer's message.
        pub async fn call(
            client: &Client,
            method: &str,
            request: Option<Request>,
        ) -> Result<Response, tonic::Status> {
            match method.trim_start_matches("/keyward.v1.") {
                $(
                    concat!(stringify!($service), "/", stringify!($method)) => client
                        .$stub()
                        .$call(request_of::<pb::$request>(method, request))
                        .await
                        .map(|answer| Box::new(answer.into_inner()) as Response),
                )*
                other => panic!("no call for {other}: add it to tests/api/calls.rs"),
            }
        }
    };
}

rpcs! {
    AccountService/CreateAccount => accounts.create_account(CreateAccountRequest),
    AccountService/GetAccount => accounts.get_account(GetAccountRequest),
    AccountService/ListAccounts => accounts.list_accounts(ListAccountsRequest),
    AccountService/UpdateAccount => accounts.update_account(UpdateAccountRequest),
    AccountService/VerifyAccount => accounts.verify_account(VerifyAccountRequest),
    AccountService/CreateUser => accounts.create_user(CreateUserRequest),
    AccountService/GetUser => accounts.get_user(GetUserRequest),
    AccountService/ListUsers => accounts.list_users(ListUsersRequest),
    AccountService/UpdateUser => accounts.update_user(UpdateUserRequest),
    AccountService/DisableUser => accounts.disable_user(DisableUserRequest),
    AccountService/EnableUser => accounts.enable_user(EnableUserRequest),
    AccountService/DeleteUser => accounts.delete_user(DeleteUserRequest),
    AccountService/CreateRole => accounts.create_role(CreateRoleRequest),
    AccountService/GetRole => accounts.get_role(GetRoleRequest),
    AccountService/ListRoles => accounts.list_roles(ListRolesRequest),
    AccountService/UpdateRole => accounts.update_role(UpdateRoleRequest),
    AccountService/DeleteRole => accounts.delete_role(DeleteRoleRequest),
    AccountService/ListAuditEvents => accounts.list_audit_events(ListAuditEventsRequest),
    AccountService/ExportAuditEvents => accounts.export_audit_events(ExportAuditEventsRequest),
    CredentialService/CreateCredential => credentials.create_credential(CreateCredentialRequest),
    CredentialService/GetCredential => credentials.get_credential(GetCredentialRequest),
    CredentialService/ListCredentials => credentials.list_credentials(ListCredentialsRequest),
    CredentialService/UpdateCredential => credentials.update_credential(UpdateCredentialRequest),
    CredentialService/EnableCredential => credentials.enable_credential(EnableCredentialRequest),
    CredentialService/DisableCredential => credentials.disable_credential(DisableCredentialRequest),
    CredentialService/RenewCredentialSecret => credentials.renew_credential_secret(RenewCredentialSecretRequest),
    CredentialService/DeleteCredential => credentials.delete_credential(DeleteCredentialRequest),
    CredentialService/VerifyClientSecret => credentials.verify_client_secret(VerifyClientSecretRequest),
    CredentialService/VerifyHmacSignature => credentials.verify_hmac_signature(VerifyHmacSignatureRequest),
    CredentialService/ReportLeakedSecrets => credentials.report_leaked_secrets(ReportLeakedSecretsRequest),
    ApiKeyService/CreateApiKey => api_keys.create_api_key(CreateApiKeyRequest),
    ApiKeyService/GetApiKey => api_keys.get_api_key(GetApiKeyRequest),
    ApiKeyService/ListApiKeys => api_keys.list_api_keys(ListApiKeysRequest),
    ApiKeyService/UpdateApiKey => api_keys.update_api_key(UpdateApiKeyRequest),
    ApiKeyService/RevokeApiKey => api_keys.revoke_api_key(RevokeApiKeyRequest),
    ApiKeyService/DeleteApiKey => api_keys.delete_api_key(DeleteApiKeyRequest),
    ApiKeyService/VerifyApiKey => api_keys.verify_api_key(VerifyApiKeyRequest),
    ApiKeyService/CreateEnrollmentToken => api_keys.create_enrollment_token(CreateEnrollmentTokenRequest),
    ApiKeyService/GetEnrollmentToken => api_keys.get_enrollment_token(GetEnrollmentTokenRequest),
    ApiKeyService/ListEnrollmentTokens => api_keys.list_enrollment_tokens(ListEnrollmentTokensRequest),
    ApiKeyService/RevokeEnrollmentToken => api_keys.revoke_enrollment_token(RevokeEnrollmentTokenRequest),
    ApiKeyService/RedeemEnrollmentToken => api_keys.redeem_enrollment_token(RedeemEnrollmentTokenRequest),
    ApiKeyService/ListApiSets => api_keys.list_api_sets(ListApiSetsRequest),
    ApiKeyService/GetApiSet => api_keys.get_api_set(GetApiSetRequest),
    ApiKeyService/CreateApiSet => api_keys.create_api_set(CreateApiSetRequest),
    ApiKeyService/UpdateApiSet => api_keys.update_api_set(UpdateApiSetRequest),
    ApiKeyService/DeleteApiSet => api_keys.delete_api_set(DeleteApiSetRequest),
}
