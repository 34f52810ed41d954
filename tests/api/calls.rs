//! Calls any Keyward RPC by its full method name with a default request: the
//! one table that maps method names to typed client calls, shared by the
//! tests that sweep every RPC.

use keyward_client::Client;
use keyward_client::proto as pb;

/// Every RPC Keyward declares, `/keyward.v1.Service/Method`, read from the
/// server's own descriptors so that a new RPC cannot be forgotten here.
pub fn all_methods() -> Vec<String> {
    keyward::grpc::declared_methods()
}

/// Calls `method` with an all-default request.
pub async fn call_with_default_request(client: &Client, method: &str) -> Result<(), tonic::Status> {
    match method {
        "/keyward.v1.AccountService/CreateAccount" => client
            .accounts()
            .create_account(pb::CreateAccountRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/GetAccount" => client
            .accounts()
            .get_account(pb::GetAccountRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/ListAccounts" => client
            .accounts()
            .list_accounts(pb::ListAccountsRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/UpdateAccount" => client
            .accounts()
            .update_account(pb::UpdateAccountRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/VerifyAccount" => client
            .accounts()
            .verify_account(pb::VerifyAccountRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/CreateUser" => client
            .accounts()
            .create_user(pb::CreateUserRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/GetUser" => client
            .accounts()
            .get_user(pb::GetUserRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/ListUsers" => client
            .accounts()
            .list_users(pb::ListUsersRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/UpdateUser" => client
            .accounts()
            .update_user(pb::UpdateUserRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/DisableUser" => client
            .accounts()
            .disable_user(pb::DisableUserRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/EnableUser" => client
            .accounts()
            .enable_user(pb::EnableUserRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/DeleteUser" => client
            .accounts()
            .delete_user(pb::DeleteUserRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/CreateRole" => client
            .accounts()
            .create_role(pb::CreateRoleRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/GetRole" => client
            .accounts()
            .get_role(pb::GetRoleRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/ListRoles" => client
            .accounts()
            .list_roles(pb::ListRolesRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/UpdateRole" => client
            .accounts()
            .update_role(pb::UpdateRoleRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/DeleteRole" => client
            .accounts()
            .delete_role(pb::DeleteRoleRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/ListAuditEvents" => client
            .accounts()
            .list_audit_events(pb::ListAuditEventsRequest::default())
            .await
            .map(drop),
        "/keyward.v1.AccountService/ExportAuditEvents" => client
            .accounts()
            .export_audit_events(pb::ExportAuditEventsRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/CreateCredential" => client
            .credentials()
            .create_credential(pb::CreateCredentialRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/GetCredential" => client
            .credentials()
            .get_credential(pb::GetCredentialRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/ListCredentials" => client
            .credentials()
            .list_credentials(pb::ListCredentialsRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/UpdateCredential" => client
            .credentials()
            .update_credential(pb::UpdateCredentialRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/EnableCredential" => client
            .credentials()
            .enable_credential(pb::EnableCredentialRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/DisableCredential" => client
            .credentials()
            .disable_credential(pb::DisableCredentialRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/RenewCredentialSecret" => client
            .credentials()
            .renew_credential_secret(pb::RenewCredentialSecretRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/DeleteCredential" => client
            .credentials()
            .delete_credential(pb::DeleteCredentialRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/VerifyClientSecret" => client
            .credentials()
            .verify_client_secret(pb::VerifyClientSecretRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/VerifyHmacSignature" => client
            .credentials()
            .verify_hmac_signature(pb::VerifyHmacSignatureRequest::default())
            .await
            .map(drop),
        "/keyward.v1.CredentialService/ReportLeakedSecrets" => client
            .credentials()
            .report_leaked_secrets(pb::ReportLeakedSecretsRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/CreateApiKey" => client
            .api_keys()
            .create_api_key(pb::CreateApiKeyRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/GetApiKey" => client
            .api_keys()
            .get_api_key(pb::GetApiKeyRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/ListApiKeys" => client
            .api_keys()
            .list_api_keys(pb::ListApiKeysRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/UpdateApiKey" => client
            .api_keys()
            .update_api_key(pb::UpdateApiKeyRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/RevokeApiKey" => client
            .api_keys()
            .revoke_api_key(pb::RevokeApiKeyRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/DeleteApiKey" => client
            .api_keys()
            .delete_api_key(pb::DeleteApiKeyRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/VerifyApiKey" => client
            .api_keys()
            .verify_api_key(pb::VerifyApiKeyRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/CreateEnrollmentToken" => client
            .api_keys()
            .create_enrollment_token(pb::CreateEnrollmentTokenRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/GetEnrollmentToken" => client
            .api_keys()
            .get_enrollment_token(pb::GetEnrollmentTokenRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/ListEnrollmentTokens" => client
            .api_keys()
            .list_enrollment_tokens(pb::ListEnrollmentTokensRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/RevokeEnrollmentToken" => client
            .api_keys()
            .revoke_enrollment_token(pb::RevokeEnrollmentTokenRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/RedeemEnrollmentToken" => client
            .api_keys()
            .redeem_enrollment_token(pb::RedeemEnrollmentTokenRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/ListApiSets" => client
            .api_keys()
            .list_api_sets(pb::ListApiSetsRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/GetApiSet" => client
            .api_keys()
            .get_api_set(pb::GetApiSetRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/CreateApiSet" => client
            .api_keys()
            .create_api_set(pb::CreateApiSetRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/UpdateApiSet" => client
            .api_keys()
            .update_api_set(pb::UpdateApiSetRequest::default())
            .await
            .map(drop),
        "/keyward.v1.ApiKeyService/DeleteApiSet" => client
            .api_keys()
            .delete_api_set(pb::DeleteApiSetRequest::default())
            .await
            .map(drop),
        other => panic!("no call for {other}: add it to tests/api/calls.rs"),
    }
}
