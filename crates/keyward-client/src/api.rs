//! The high-level API: one method per RPC on [`Client`]. A read takes the resource's
//! name; everything else takes one request: a builder of [`crate::requests`] for creates
//! (request ids generated), renewals and verifications (one [`Scope`]), a [`Target`] (a
//! name, and optionally an etag) for state changes and deletes, and the builders of
//! [`crate::update`], which fill the field mask, for updates. Each answers the resource
//! (or a `Created…` value holding its secret as a [`SecretString`]) or a [`ClientError`]
//! that keeps whatever the server said.
//! Every call goes through the client's [`RetryPolicy`](crate::RetryPolicy)
//! (UNAVAILABLE only). A list RPC has two methods, both taking its list builder of
//! [`crate::requests`] ([`ListUsers`]…: page size, page token, filters), or just the
//! parent's name: `list_…` fetches one [`Page`], `list_…_stream` walks every page from
//! the builder's page token (the first page without one).

use std::pin::Pin;

use futures_util::stream::{self, Stream, TryStreamExt};
use secrecy::SecretString;

use crate::proto as pb;
use crate::requests::{
    HmacRequest, ListAccounts, ListApiKeys, ListApiSets, ListAuditEvents, ListCredentials,
    ListEnrollmentTokens, ListRoles, ListUsers, NewAccount, NewApiKey, NewApiSet, NewCredential,
    NewEnrollmentToken, NewRole, NewUser, Scope, SecretRenewal, Target,
};
use crate::update::{
    AccountUpdate, ApiKeyUpdate, ApiSetUpdate, CredentialUpdate, RoleUpdate, UserUpdate,
};
use crate::{Client, ClientError};

/// A stream over every item of a paginated list, fetching pages as it goes.
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T, ClientError>> + Send + 'static>>;

/// Calls `$client.$stub().$method(req)` through the retry policy and returns
/// the response message.
macro_rules! rpc {
    ($client:expr, $stub:ident, $method:ident, $req:expr) => {{
        let client: &Client = $client;
        let req = $req;
        client
            .retry
            .run(|| {
                let mut stub = client.$stub();
                let req = req.clone();
                async move {
                    stub.$method(req)
                        .await
                        .map(tonic::Response::into_inner)
                        .map_err(ClientError::from)
                }
            })
            .await
    }};
}

/// Builds an [`ItemStream`] from a page fetcher, starting at the page `first` (empty:
/// the first page): `fetch(page_token)` answers one page's items and the next token
/// (empty at the end).
fn pages<T, F, Fut>(first: String, fetch: F) -> ItemStream<T>
where
    T: Send + 'static,
    F: FnMut(String) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, String), ClientError>> + Send + 'static,
{
    let pages = stream::try_unfold((fetch, Some(first)), |(mut fetch, token)| async move {
        let Some(token) = token else {
            return Ok::<_, ClientError>(None);
        };
        let (items, next) = fetch(token).await?;
        let next = (!next.is_empty()).then_some(next);
        Ok(Some((items, (fetch, next))))
    });
    Box::pin(
        pages
            .map_ok(|items| stream::iter(items.into_iter().map(Ok::<T, ClientError>)))
            .try_flatten(),
    )
}

/// Defines the two methods of a list RPC, both taking its builder `$list` (or what
/// converts into one): `$page` answers one [`Page`], `$name` (`…_stream`) walks every
/// page from the builder's page token.
macro_rules! list_stream {
    (
        $(#[$doc:meta])*
        $name:ident / $page:ident($list:ty) -> $item:ty,
        $stub:ident . $method:ident,
        $field:ident
    ) => {
        $(#[$doc])*
        ///
        /// Walks from the page of the builder's page token (the first page without one)
        /// to the last, fetching `page_size` items a request.
        pub fn $name(&self, list: impl Into<$list>) -> ItemStream<$item> {
            let client = self.clone();
            let mut request = list.into().into_request();
            let first = std::mem::take(&mut request.page_token);
            pages(first, move |token: String| {
                let client = client.clone();
                let mut request = request.clone();
                request.page_token = token;
                async move {
                    let resp = rpc!(&client, $stub, $method, request)?;
                    Ok((resp.$field, resp.next_page_token))
                }
            })
        }

        #[doc = concat!(
            "One page of what [`Client::", stringify!($name), "`] streams: up to ",
            "`page_size` items from the builder's page token (the first page without ",
            "one), and the token of the next page."
        )]
        pub async fn $page(&self, list: impl Into<$list>) -> Result<Page<$item>, ClientError> {
            let resp = rpc!(self, $stub, $method, list.into().into_request())?;
            Ok(Page {
                items: resp.$field,
                next_page_token: resp.next_page_token,
            })
        }
    };
}

/// One page of a list RPC.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The token of the next page; empty on the last page.
    pub next_page_token: String,
}

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, ClientError> {
    value.ok_or(ClientError::MissingField(field))
}

/// A new account, its first administrator and that administrator's API key.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedAccount {
    /// The account.
    pub account: pb::Account,
    /// Its first administrator.
    pub administrator: pb::User,
    /// The administrator's API key, shown once.
    pub administrator_api_key: SecretString,
}

/// A new credential and its client secret.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedCredential {
    /// The credential (its `client_id` included).
    pub credential: pb::Credential,
    /// The client secret, shown once. Empty when a `request_id` retry
    /// returned an earlier creation.
    pub client_secret: SecretString,
    /// For a renewal: the version of the new secret (0 for a create, and for a
    /// `request_id` retry, which hands no secret over).
    pub secret_version: i32,
}

/// A new API key.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedApiKey {
    /// The key's resource.
    pub api_key: pb::ApiKey,
    /// The key itself, shown once.
    pub key: SecretString,
    /// The name to save it under (see [`crate::ApiKeyFile`]).
    pub suggested_file_name: String,
}

/// A new enrollment token.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedEnrollmentToken {
    /// The token's resource.
    pub enrollment_token: pb::EnrollmentToken,
    /// The token itself (`kw_et_…`), shown once, for its user to redeem
    /// ([`Client::redeem_enrollment_token`]). Empty when a `request_id` retry returned an
    /// earlier one.
    pub token: SecretString,
}

/// Accounts, users, roles and the audit log (`AccountService`).
impl Client {
    /// Creates an account (operators only) with its first administrator (see
    /// [`NewAccount`]); the answer holds that administrator's API key.
    pub async fn create_account(&self, new: NewAccount) -> Result<CreatedAccount, ClientError> {
        let resp = rpc!(self, accounts, create_account, new.into_request())?;
        Ok(CreatedAccount {
            account: required(resp.account, "account")?,
            administrator: required(resp.administrator, "administrator")?,
            administrator_api_key: resp.administrator_api_key.into(),
        })
    }

    /// Marks an account verified (operators only), so it may create API
    /// client credentials. With an etag ([`Target::etag`]), only if the account still has it
    /// (ABORTED otherwise).
    pub async fn verify_account(
        &self,
        target: impl Into<Target>,
    ) -> Result<pb::Account, ClientError> {
        let target = target.into();
        let resp = rpc!(
            self,
            accounts,
            verify_account,
            pb::VerifyAccountRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        required(resp.account, "account")
    }

    /// Changes an account's display name (see [`AccountUpdate`]).
    pub async fn update_account(&self, update: AccountUpdate) -> Result<pb::Account, ClientError> {
        let resp = rpc!(self, accounts, update_account, update.into_request())?;
        required(resp.account, "account")
    }

    /// Reads an account (`accounts/{account}`).
    pub async fn get_account(&self, name: &str) -> Result<pb::Account, ClientError> {
        let resp = rpc!(
            self,
            accounts,
            get_account,
            pb::GetAccountRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.account, "account")
    }

    /// Creates a user (see [`NewUser`]).
    pub async fn create_user(&self, new: NewUser) -> Result<pb::User, ClientError> {
        let resp = rpc!(self, accounts, create_user, new.into_request())?;
        required(resp.user, "user")
    }

    /// Reads a user (`accounts/{account}/users/{user}`).
    pub async fn get_user(&self, name: &str) -> Result<pb::User, ClientError> {
        let resp = rpc!(
            self,
            accounts,
            get_user,
            pb::GetUserRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.user, "user")
    }

    /// Changes a user's display name, email or roles (see [`UserUpdate`]).
    pub async fn update_user(&self, update: UserUpdate) -> Result<pb::User, ClientError> {
        let resp = rpc!(self, accounts, update_user, update.into_request())?;
        required(resp.user, "user")
    }

    /// Disables a user: their API keys stop working until they are enabled
    /// again. With an etag ([`Target::etag`]), only if the user still has it (ABORTED
    /// otherwise). The last active administrator of an account cannot be
    /// disabled (FAILED_PRECONDITION, reason `LAST_ADMINISTRATOR`).
    pub async fn disable_user(&self, target: impl Into<Target>) -> Result<pb::User, ClientError> {
        let target = target.into();
        let resp = rpc!(
            self,
            accounts,
            disable_user,
            pb::DisableUserRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        required(resp.user, "user")
    }

    /// Enables a disabled user. With an etag ([`Target::etag`]), only if the user still has
    /// it (ABORTED otherwise).
    pub async fn enable_user(&self, target: impl Into<Target>) -> Result<pb::User, ClientError> {
        let target = target.into();
        let resp = rpc!(
            self,
            accounts,
            enable_user,
            pb::EnableUserRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        required(resp.user, "user")
    }

    /// Deletes a user. With an etag ([`Target::etag`]), only if the user still has it
    /// (ABORTED otherwise).
    pub async fn delete_user(&self, target: impl Into<Target>) -> Result<(), ClientError> {
        let target = target.into();
        rpc!(
            self,
            accounts,
            delete_user,
            pb::DeleteUserRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        Ok(())
    }

    /// Creates a role (see [`NewRole`]).
    pub async fn create_role(&self, new: NewRole) -> Result<pb::Role, ClientError> {
        let resp = rpc!(self, accounts, create_role, new.into_request())?;
        required(resp.role, "role")
    }

    /// Reads a role (`accounts/{account}/roles/{role}`).
    pub async fn get_role(&self, name: &str) -> Result<pb::Role, ClientError> {
        let resp = rpc!(
            self,
            accounts,
            get_role,
            pb::GetRoleRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.role, "role")
    }

    /// Changes a role's display name, description or authorities (see
    /// [`RoleUpdate`]).
    pub async fn update_role(&self, update: RoleUpdate) -> Result<pb::Role, ClientError> {
        let resp = rpc!(self, accounts, update_role, update.into_request())?;
        required(resp.role, "role")
    }

    /// Deletes a role. With an etag ([`Target::etag`]), only if the role still has it
    /// (ABORTED otherwise).
    pub async fn delete_role(&self, target: impl Into<Target>) -> Result<(), ClientError> {
        let target = target.into();
        rpc!(
            self,
            accounts,
            delete_role,
            pb::DeleteRoleRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        Ok(())
    }

    list_stream!(
        /// Every account the caller may see ([`ListAccounts::all`]).
        list_accounts_stream / list_accounts(ListAccounts) -> pb::Account,
        accounts.list_accounts,
        accounts
    );

    list_stream!(
        /// Every user of an account: `"accounts/{account}"`, or a [`ListUsers`].
        list_users_stream / list_users(ListUsers) -> pb::User,
        accounts.list_users,
        users
    );

    list_stream!(
        /// Every role of an account: `"accounts/{account}"`, or a [`ListRoles`].
        list_roles_stream / list_roles(ListRoles) -> pb::Role,
        accounts.list_roles,
        roles
    );

    list_stream!(
        /// Every audit event of an account, newest first: `"accounts/{account}"`, or a
        /// [`ListAuditEvents`].
        list_audit_events_stream / list_audit_events(ListAuditEvents) -> pb::AuditEvent,
        accounts.list_audit_events,
        audit_events
    );
}

/// API client credentials and their verification (`CredentialService`).
impl Client {
    /// Creates a credential; the answer holds its client secret, once.
    pub async fn create_credential(
        &self,
        new: NewCredential,
    ) -> Result<CreatedCredential, ClientError> {
        let resp = rpc!(self, credentials, create_credential, new.into_request())?;
        Ok(CreatedCredential {
            credential: required(resp.credential, "credential")?,
            client_secret: resp.client_secret.into(),
            secret_version: 0,
        })
    }

    /// Reads a credential (`accounts/{account}/credentials/{credential}`).
    pub async fn get_credential(&self, name: &str) -> Result<pb::Credential, ClientError> {
        let resp = rpc!(
            self,
            credentials,
            get_credential,
            pb::GetCredentialRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.credential, "credential")
    }

    /// Changes a credential's display name, description, application or
    /// API sets (see [`CredentialUpdate`]).
    pub async fn update_credential(
        &self,
        update: CredentialUpdate,
    ) -> Result<pb::Credential, ClientError> {
        let resp = rpc!(self, credentials, update_credential, update.into_request())?;
        required(resp.credential, "credential")
    }

    /// Enables a disabled credential. With an etag ([`Target::etag`]), only if the credential
    /// still has it (ABORTED otherwise).
    pub async fn enable_credential(
        &self,
        target: impl Into<Target>,
    ) -> Result<pb::Credential, ClientError> {
        let target = target.into();
        let resp = rpc!(
            self,
            credentials,
            enable_credential,
            pb::EnableCredentialRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        required(resp.credential, "credential")
    }

    /// Disables a credential: it stops verifying until enabled again. With
    /// an `etag`, only if the credential still has it (ABORTED otherwise).
    pub async fn disable_credential(
        &self,
        target: impl Into<Target>,
    ) -> Result<pb::Credential, ClientError> {
        let target = target.into();
        let resp = rpc!(
            self,
            credentials,
            disable_credential,
            pb::DisableCredentialRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        required(resp.credential, "credential")
    }

    /// Issues a new client secret (see [`SecretRenewal`]: grace period,
    /// request id, etag). The answer holds it, once; a `request_id` retry
    /// answers with an empty secret.
    pub async fn renew_secret(
        &self,
        renewal: SecretRenewal,
    ) -> Result<CreatedCredential, ClientError> {
        let resp = rpc!(
            self,
            credentials,
            renew_credential_secret,
            renewal.into_request()
        )?;
        Ok(CreatedCredential {
            credential: required(resp.credential, "credential")?,
            client_secret: resp.client_secret.into(),
            secret_version: resp.secret_version,
        })
    }

    /// Deletes a credential. With an etag ([`Target::etag`]), only if the credential still
    /// has it (ABORTED otherwise).
    pub async fn delete_credential(&self, target: impl Into<Target>) -> Result<(), ClientError> {
        let target = target.into();
        rpc!(
            self,
            credentials,
            delete_credential,
            pb::DeleteCredentialRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        Ok(())
    }

    /// Asks whether `client_id` and `client_secret` are valid and whether the credential
    /// may do what `scope` asks. A refusal is a decision, not an error.
    pub async fn verify_client_secret(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Scope,
    ) -> Result<pb::Decision, ClientError> {
        let resp = rpc!(
            self,
            credentials,
            verify_client_secret,
            pb::VerifyClientSecretRequest {
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
                authorization: String::new(),
                api_set: scope.api_set,
                api_method: scope.api_method,
            }
        )?;
        required(resp.decision, "decision")
    }

    /// Every audit event of `account` (`accounts/{account}`), oldest first, with its
    /// place in the account's hash chain: check it with [`crate::audit::verify`]. Needs
    /// VIEW_AUDIT_LOG.
    pub async fn export_audit_events(
        &self,
        account: &str,
    ) -> Result<Vec<pb::AuditEvent>, ClientError> {
        let request = pb::ExportAuditEventsRequest {
            parent: account.to_owned(),
        };
        let mut stream = self
            .accounts()
            .export_audit_events(request)
            .await
            .map_err(ClientError::from)?
            .into_inner();
        let mut events = Vec::new();
        while let Some(part) = stream.message().await.map_err(ClientError::from)? {
            events.extend(part.audit_events);
        }
        Ok(events)
    }

    /// Reports strings a secret scanner found, each with where it was found (a URL or
    /// free text), and returns what Keyward made of each, in order: real, live secrets
    /// are revoked (a client credential disabled and marked compromised) at once. At most
    /// 100 strings per call; the caller needs the API set `keyward.leak-reports` in the
    /// operator account. A secret found by [`crate::scan::find_keys`] can be reported as
    /// it is.
    pub async fn report_leaked_secrets<S, L>(
        &self,
        found: impl IntoIterator<Item = (S, L)>,
    ) -> Result<Vec<pb::LeakReport>, ClientError>
    where
        S: Into<String>,
        L: Into<String>,
    {
        let secrets = found
            .into_iter()
            .map(|(secret, location)| pb::LeakedSecret {
                secret: secret.into(),
                location: location.into(),
            })
            .collect();
        let resp = rpc!(
            self,
            credentials,
            report_leaked_secrets,
            pb::ReportLeakedSecretsRequest { secrets }
        )?;
        Ok(resp.results)
    }

    /// Asks whether a `KEYWARD-HMAC-SHA256` signed request is valid: its
    /// `authorization` header, method, path, raw query and the body's
    /// SHA-256 in lowercase hex (see [`crate::hmac`]), and whether the credential may do
    /// what `scope` asks.
    pub async fn verify_hmac_signature(
        &self,
        request: HmacRequest<'_>,
        scope: Scope,
    ) -> Result<pb::Decision, ClientError> {
        let resp = rpc!(
            self,
            credentials,
            verify_hmac_signature,
            pb::VerifyHmacSignatureRequest {
                authorization: request.authorization.to_owned(),
                http_method: request.http_method.to_owned(),
                path: request.path.to_owned(),
                query: request.query.to_owned(),
                body_sha256: request.body_sha256.to_owned(),
                api_set: scope.api_set,
                api_method: scope.api_method,
            }
        )?;
        required(resp.decision, "decision")
    }

    list_stream!(
        /// Every credential of an account: `"accounts/{account}"`, or a
        /// [`ListCredentials`], which may narrow it to a state and a scheme.
        list_credentials_stream / list_credentials(ListCredentials) -> pb::Credential,
        credentials.list_credentials,
        credentials
    );
}

/// API keys and API sets (`ApiKeyService`).
impl Client {
    /// Creates an API key; the answer holds the key, once.
    pub async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey, ClientError> {
        let resp = rpc!(self, api_keys, create_api_key, new.into_request())?;
        Ok(CreatedApiKey {
            api_key: required(resp.api_key, "api_key")?,
            key: resp.key.into(),
            suggested_file_name: resp.suggested_file_name,
        })
    }

    /// Issues `new`'s user a one-time enrollment token (administrators and holders of
    /// `MANAGE_USERS`); the answer holds the token, once.
    pub async fn create_enrollment_token(
        &self,
        new: NewEnrollmentToken,
    ) -> Result<CreatedEnrollmentToken, ClientError> {
        let resp = rpc!(self, api_keys, create_enrollment_token, new.into_request())?;
        Ok(CreatedEnrollmentToken {
            enrollment_token: required(resp.enrollment_token, "enrollment_token")?,
            token: resp.token.into(),
        })
    }

    /// Reads an enrollment token (`accounts/{a}/users/{u}/enrollmentTokens/{t}`).
    pub async fn get_enrollment_token(
        &self,
        name: &str,
    ) -> Result<pb::EnrollmentToken, ClientError> {
        let resp = rpc!(
            self,
            api_keys,
            get_enrollment_token,
            pb::GetEnrollmentTokenRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.enrollment_token, "enrollment_token")
    }

    list_stream!(
        /// Every enrollment token of a user: `"accounts/{a}/users/{u}"` (or
        /// `"accounts/{a}/users/-"` for every user of the account), or a
        /// [`ListEnrollmentTokens`].
        list_enrollment_tokens_stream / list_enrollment_tokens(ListEnrollmentTokens) -> pb::EnrollmentToken,
        api_keys.list_enrollment_tokens,
        enrollment_tokens
    );

    /// Revokes an enrollment token that was not redeemed.
    pub async fn revoke_enrollment_token(
        &self,
        name: &str,
    ) -> Result<pb::EnrollmentToken, ClientError> {
        let resp = rpc!(
            self,
            api_keys,
            revoke_enrollment_token,
            pb::RevokeEnrollmentTokenRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.enrollment_token, "enrollment_token")
    }

    /// Redeems the enrollment token `token` (`kw_et_…`) for its user's first API key,
    /// described by `new` (its display name, description, API sets among those the token
    /// offers, and lifetime; its parent and request id are not used: the key is the token's
    /// user's, and a token makes one key only). The call authenticates with the token,
    /// whatever this client's own credential; the answer holds the key, once.
    pub async fn redeem_enrollment_token(
        &self,
        token: &str,
        new: NewApiKey,
    ) -> Result<CreatedApiKey, ClientError> {
        let redeemer = self.with_bearer(token)?;
        let request = new.into_request();
        let resp = rpc!(
            &redeemer,
            api_keys,
            redeem_enrollment_token,
            pb::RedeemEnrollmentTokenRequest {
                api_key: request.api_key,
                ttl: request.ttl,
            }
        )?;
        Ok(CreatedApiKey {
            api_key: required(resp.api_key, "api_key")?,
            key: resp.key.into(),
            suggested_file_name: resp.suggested_file_name,
        })
    }

    /// Reads an API key (`accounts/{a}/users/{u}/apiKeys/{k}`).
    pub async fn get_api_key(&self, name: &str) -> Result<pb::ApiKey, ClientError> {
        let resp = rpc!(
            self,
            api_keys,
            get_api_key,
            pb::GetApiKeyRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.api_key, "api_key")
    }

    /// Changes an API key's display name or description (see
    /// [`ApiKeyUpdate`]).
    pub async fn update_api_key(&self, update: ApiKeyUpdate) -> Result<pb::ApiKey, ClientError> {
        let resp = rpc!(self, api_keys, update_api_key, update.into_request())?;
        required(resp.api_key, "api_key")
    }

    /// Revokes an API key, for good.
    pub async fn revoke_api_key(&self, name: &str) -> Result<pb::ApiKey, ClientError> {
        let resp = rpc!(
            self,
            api_keys,
            revoke_api_key,
            pb::RevokeApiKeyRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.api_key, "api_key")
    }

    /// Deletes an API key. With an etag ([`Target::etag`]), only if the key still has it
    /// (ABORTED otherwise).
    pub async fn delete_api_key(&self, target: impl Into<Target>) -> Result<(), ClientError> {
        let target = target.into();
        rpc!(
            self,
            api_keys,
            delete_api_key,
            pb::DeleteApiKeyRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        Ok(())
    }

    /// Asks whether `key` is valid and whether it may do what `scope` asks. A refusal is
    /// a decision, not an error.
    pub async fn verify_api_key(
        &self,
        key: &str,
        scope: Scope,
    ) -> Result<pb::Decision, ClientError> {
        let resp = rpc!(
            self,
            api_keys,
            verify_api_key,
            pb::VerifyApiKeyRequest {
                key: key.to_owned(),
                api_set: scope.api_set,
                api_method: scope.api_method,
            }
        )?;
        required(resp.decision, "decision")
    }

    /// Creates a platform API set (operators only; see [`NewApiSet`]).
    pub async fn create_api_set(&self, new: NewApiSet) -> Result<pb::ApiSet, ClientError> {
        let resp = rpc!(self, api_keys, create_api_set, new.into_request())?;
        required(resp.api_set, "api_set")
    }

    /// Reads an API set (`apiSets/{id}`).
    pub async fn get_api_set(&self, name: &str) -> Result<pb::ApiSet, ClientError> {
        let resp = rpc!(
            self,
            api_keys,
            get_api_set,
            pb::GetApiSetRequest {
                name: name.to_owned()
            }
        )?;
        required(resp.api_set, "api_set")
    }

    /// Changes a platform API set (operators only; see [`ApiSetUpdate`]).
    /// The built-in API sets cannot be changed.
    pub async fn update_api_set(&self, update: ApiSetUpdate) -> Result<pb::ApiSet, ClientError> {
        let resp = rpc!(self, api_keys, update_api_set, update.into_request())?;
        required(resp.api_set, "api_set")
    }

    /// Deletes a platform API set (operators only). With an etag ([`Target::etag`]), only if
    /// the set still has it (ABORTED otherwise).
    pub async fn delete_api_set(&self, target: impl Into<Target>) -> Result<(), ClientError> {
        let target = target.into();
        rpc!(
            self,
            api_keys,
            delete_api_set,
            pb::DeleteApiSetRequest {
                name: target.name,
                etag: target.etag,
            }
        )?;
        Ok(())
    }

    list_stream!(
        /// Every API set of the catalog ([`ListApiSets::all`]), or only those the caller
        /// may put on a new key or credential of an account
        /// ([`ListApiSets::available_in`]).
        list_api_sets_stream / list_api_sets(ListApiSets) -> pb::ApiSet,
        api_keys.list_api_sets,
        api_sets
    );

    list_stream!(
        /// Every API key of a user: `"users/me"`, `"accounts/{a}/users/{u}"` (or every
        /// user's with `"accounts/{a}/users/-"`), or a [`ListApiKeys`], which may narrow it
        /// to a state.
        list_api_keys_stream / list_api_keys(ListApiKeys) -> pb::ApiKey,
        api_keys.list_api_keys,
        api_keys
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use futures_util::TryStreamExt as _;

    use super::pages;

    #[tokio::test]
    async fn a_stream_starts_at_the_given_page_and_walks_to_the_last() {
        // Three pages: "" → [1, 2], "b" → [3, 4], "c" → [5].
        let fetch = |token: String| async move {
            Ok(match token.as_str() {
                "" => (vec![1, 2], "b".to_owned()),
                "b" => (vec![3, 4], "c".to_owned()),
                _ => (vec![5], String::new()),
            })
        };
        let all: Vec<i32> = pages(String::new(), fetch).try_collect().await.unwrap();
        assert_eq!(all, [1, 2, 3, 4, 5]);
        let rest: Vec<i32> = pages("b".to_owned(), fetch).try_collect().await.unwrap();
        assert_eq!(rest, [3, 4, 5]);
    }
}
