//! Use cases: API client credentials (create, read, list, update, enable, disable, renew
//! the secret, delete), the verification of their secrets (Basic, HMAC) and the reports of
//! leaked secrets.
//!
//! Retrying a create or renew with the same request ID returns the credential as it is
//! and never a second secret: a secret is only in the response of the request that made
//! it. A retry cannot know whether that first response was seen, so it must assume it was;
//! a client that lost it renews the secret (the Client ID stays).
//!
//! The judgement of presented secrets lives in `crate::auth::authenticate` (Basic, shared
//! with authentication) and `crate::verification` (HMAC, API-set scope); the verifications
//! here count the failures for the audit log and answer a [`ClientDecision`].

use std::collections::HashMap;

use chrono::Duration;
use keyward_core::key::{Key, KeyKind};
use keyward_store::{
    Credential, CredentialScheme, CredentialSecret, CredentialState, CredentialUpdate,
    NewCredential, NewSecretVersion, SecretMaterial, SecretRenewal, StoreError, Unique,
};

use crate::audit::record_success;
use crate::auth::Caller;
use crate::auth::authenticate::{ClientJudgement, ClientMatch, parse_basic};
use crate::auth::grants::grantable_api_sets;
use crate::auth::principal::credential_name;
use crate::error::ServiceError;
use crate::idempotency::{self, Once, RequestKey};
use crate::identity::generated_id;
use crate::index::CredentialFacts;
use crate::judgement::ClientRefusal;
use crate::leaks::{self, Reported, Verdict};
use crate::state::AppState;
use crate::usage::UsageTarget;
use crate::usecases::{PageQuery, Parsed};
use crate::validate::{self, names, required};
use crate::verification::{
    Asked, HmacJudgement, HmacRefusal, HmacRequest, check_hmac_request, claim_nonce, judge_hmac,
    usable_client_api_sets,
};

/// Longest grace period a renewal may ask for.
const MAX_GRACE_PERIOD: Duration = Duration::days(7);

/// A credential named by a request, `accounts/{account}/credentials/{credential}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRef {
    /// Its account, which the caller is authorized against.
    pub account_id: String,
    /// The credential's ID.
    pub id: String,
}

impl CredentialRef {
    /// Its resource name.
    pub fn name(&self) -> String {
        credential_name(&self.account_id, &self.id)
    }
}

/// A credential named with the etag its caller last saw (enable, disable, delete).
#[derive(Debug, Clone)]
pub struct CredentialAt {
    /// The credential.
    pub credential: CredentialRef,
    /// The etag, empty for none (checked after the authorization).
    pub etag: String,
}

/// A credential with its secret versions, as the API shows it (never a secret).
#[derive(Debug, Clone)]
pub struct CredentialView {
    /// The credential.
    pub credential: Credential,
    /// Its stored secret versions.
    pub secrets: Vec<CredentialSecret>,
}

/// A request to create a credential in `account_id`.
#[derive(Debug)]
pub struct NewCredentialRequest {
    /// The account, which the caller is authorized against.
    pub account_id: String,
    /// The request ID and what identifies the request.
    pub request_key: Parsed<Option<RequestKey>>,
    /// The credential's fields (required).
    pub credential: Option<CredentialFields>,
    /// The Client ID's identifier after the account's prefix; empty for a generated one.
    pub identifier: String,
}

/// The fields of a credential to create, as given.
#[derive(Debug)]
pub struct CredentialFields {
    /// Human-readable name.
    pub display_name: String,
    /// What it is for.
    pub description: String,
    /// Contact email.
    pub contact_email: String,
    /// The application that uses it.
    pub application: String,
    /// Basic or HMAC.
    pub scheme: Parsed<CredentialScheme>,
    /// The API sets it may use, as resource names.
    pub api_sets: Vec<String>,
    /// When it stops verifying, if ever.
    pub expire_time: Option<prost_types::Timestamp>,
}

/// A credential made by [`create_credential`], with its secret; a retry that replayed it
/// has none (a secret is shown once).
#[derive(Debug)]
pub struct Created {
    /// The credential.
    pub credential: CredentialView,
    /// Its first secret, when this request made it.
    pub secret: Option<Key>,
}

/// Which credentials of an account to list.
#[derive(Debug)]
pub struct CredentialFilter {
    /// The account, which the caller is authorized against.
    pub account_id: String,
    /// Only those in this state, if given.
    pub state: Parsed<Option<CredentialState>>,
    /// Only those of this scheme, if given.
    pub scheme: Parsed<Option<CredentialScheme>>,
    /// The page.
    pub page: PageQuery,
}

/// A page of credentials with their secret versions.
#[derive(Debug)]
pub struct CredentialPage {
    /// The credentials, in list order.
    pub credentials: Vec<Credential>,
    /// Their secret versions, by credential ID.
    pub secrets: HashMap<String, Vec<CredentialSecret>>,
    /// Cursor of the next page, when there is one.
    pub next_after: Option<String>,
}

/// Changes to a credential's fields.
#[derive(Debug)]
pub struct CredentialChanges {
    /// The credential.
    pub credential: CredentialRef,
    /// The update mask's paths (required).
    pub update_mask: Option<Vec<String>>,
    /// New human-readable name.
    pub display_name: String,
    /// New description.
    pub description: String,
    /// New application.
    pub application: String,
    /// New API sets, as resource names.
    pub api_sets: Vec<String>,
    /// The etag the caller last saw, empty for none.
    pub etag: String,
}

/// A request to renew a credential's secret.
#[derive(Debug)]
pub struct RenewalRequest {
    /// The credential.
    pub credential: CredentialRef,
    /// The request ID and what identifies the request.
    pub request_key: Parsed<Option<RequestKey>>,
    /// How long the previous secret keeps verifying, if at all.
    pub grace_period: Option<prost_types::Duration>,
    /// The etag the caller last saw, empty for none.
    pub etag: String,
}

/// A renewed credential with its new secret; a retry that replayed the renewal has none.
#[derive(Debug)]
pub struct Renewed {
    /// The credential; with the secret versions as the renewal's own transaction left
    /// them, when this request renewed it.
    pub credential: CredentialView,
    /// The new secret, when this request made it.
    pub secret: Option<Key>,
    /// The new secret's version, 0 when replayed.
    pub version: i32,
}

/// A client secret a gateway was presented: `client_id` and `client_secret`, or a Basic
/// `authorization` header; and what it asks besides validity.
#[derive(Debug, Clone, Copy)]
pub struct PresentedSecret<'a> {
    /// The Client ID.
    pub client_id: &'a str,
    /// The client secret.
    pub client_secret: &'a str,
    /// The raw `Authorization` header value.
    pub authorization: &'a str,
    /// The API set asked about, if any.
    pub api_set: &'a str,
    /// The method asked about, if any.
    pub api_method: &'a str,
}

/// An HMAC-signed request a gateway received, and what it asks besides validity.
#[derive(Debug, Clone, Copy)]
pub struct SignedCall<'a> {
    /// The request and its signature.
    pub signed: HmacRequest<'a>,
    /// The API set asked about, if any.
    pub api_set: &'a str,
    /// The method asked about, if any.
    pub api_method: &'a str,
}

/// Why a presented client secret or signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown, wrong, renewed away or deleted: never told apart.
    Invalid,
    /// The credential, or the secret version presented, has expired.
    Expired,
    /// The credential is disabled.
    Disabled,
    /// The credential may not use the API set or method asked about.
    ApiSetNotAllowed,
    /// The signature's timestamp is too far from the server clock.
    StaleTimestamp,
    /// The signature's nonce was used already.
    ReplayedNonce,
    /// The credential's budget of unproven secrets is spent.
    TooManyAttempts,
}

impl Refusal {
    /// The reason's name in the API (`REASON_…`), under which failures are audited.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refusal::Invalid => "REASON_INVALID",
            Refusal::Expired => "REASON_EXPIRED",
            Refusal::Disabled => "REASON_DISABLED",
            Refusal::ApiSetNotAllowed => "REASON_API_SET_NOT_ALLOWED",
            Refusal::StaleTimestamp => "REASON_STALE_TIMESTAMP",
            Refusal::ReplayedNonce => "REASON_REPLAYED_NONCE",
            Refusal::TooManyAttempts => "REASON_TOO_MANY_ATTEMPTS",
        }
    }
}

impl From<ClientRefusal> for Refusal {
    fn from(refusal: ClientRefusal) -> Self {
        match refusal {
            ClientRefusal::Invalid => Refusal::Invalid,
            ClientRefusal::Expired => Refusal::Expired,
            ClientRefusal::Disabled => Refusal::Disabled,
        }
    }
}

/// The decision about a presented client secret or signature.
#[derive(Debug, Clone)]
pub enum ClientDecision {
    /// Not identified: INVALID and nothing else.
    Invalid,
    /// The secret was not checked: TOO_MANY_ATTEMPTS and nothing else.
    TooManyAttempts,
    /// The secret or signature matched: valid when `refusal` is None.
    Matched {
        /// The credential and the version that matched.
        matched: ClientMatch,
        /// The API sets it may use now (from [`usable_client_api_sets`]).
        usable: Vec<String>,
        /// Why it may not be used, if it may not.
        refusal: Option<Refusal>,
    },
}

/// The credential with its secret versions.
async fn show(app: &AppState, credential: Credential) -> Result<CredentialView, ServiceError> {
    let secrets = app.store.list_credential_secrets(&credential.id).await?;
    Ok(CredentialView {
        credential,
        secrets,
    })
}

/// A new client secret and its stored form: an argon2id hash for Basic, sealed under
/// the master key for HMAC.
async fn new_secret(
    app: &AppState,
    credential_id: &str,
    scheme: CredentialScheme,
) -> Result<(Key, NewSecretVersion), ServiceError> {
    let secret = Key::generate(KeyKind::ClientSecret)
        .map_err(|err| ServiceError::Internal(Box::new(err)))?;
    let material = match scheme {
        CredentialScheme::Basic => SecretMaterial::Hash(app.hasher.hash_key(&secret).await?),
        CredentialScheme::Hmac => app
            .master_keys
            .seal(credential_id, &secret)
            .map_err(|err| ServiceError::Internal(Box::new(err)))?,
    };
    let key_id = secret.id().as_str().to_owned();
    Ok((secret, NewSecretVersion { material, key_id }))
}

/// A credential's identifier: 3 to 40 lowercase letters, digits, hyphens and underscores.
fn identifier(field: &str, value: &str) -> Result<String, ServiceError> {
    let ok = (3..=40).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ServiceError::invalid(
            field,
            "must be 3 to 40 lowercase letters, digits, hyphens and underscores",
        ))
    }
}

/// A renewal's grace period: none, or up to [`MAX_GRACE_PERIOD`].
fn grace_period(value: Option<&prost_types::Duration>) -> Result<Option<Duration>, ServiceError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let in_range = value.seconds >= 0
        && (0..1_000_000_000).contains(&value.nanos)
        && value.seconds <= MAX_GRACE_PERIOD.num_seconds()
        && !(value.seconds == MAX_GRACE_PERIOD.num_seconds() && value.nanos > 0);
    if !in_range {
        return Err(ServiceError::invalid(
            "grace_period",
            "must be between 0 and 7 days (604800s)",
        ));
    }
    let grace = Duration::seconds(value.seconds) + Duration::nanoseconds(i64::from(value.nanos));
    Ok((grace > Duration::zero()).then_some(grace))
}

/// Store errors of a credential write, in the request's words.
fn write_error(err: StoreError) -> ServiceError {
    match err {
        StoreError::ForeignKey {
            entity: "api set", ..
        } => ServiceError::invalid(
            "credential.api_sets",
            "names an API set that is not in the catalog",
        ),
        StoreError::AlreadyExists {
            constraint: Unique::CredentialContactEmail,
            ..
        } => ServiceError::AlreadyExists {
            message: "a credential with this contact email already exists in the account \
                          (one credential per contact email, compared case-insensitively)"
                .to_owned(),
        },
        StoreError::AlreadyExists {
            constraint: Unique::CredentialClientId,
            ..
        } => ServiceError::AlreadyExists {
            message: "this Client ID is taken: choose another identifier".to_owned(),
        },
        other => other.into(),
    }
}

/// Creates a credential with its first secret (once per request ID).
pub async fn create_credential(
    app: &AppState,
    caller: &Caller,
    input: NewCredentialRequest,
) -> Result<Created, ServiceError> {
    let account_id = input.account_id;
    caller.authorize(&account_id)?;
    let request_key = input.request_key?;
    let credential = required("credential", input.credential)?;
    let now = app.clock.now();
    let display_name =
        validate::display_name("credential.display_name", &credential.display_name, 100)?;
    let description = validate::text("credential.description", &credential.description, 1000)?;
    let contact_email = validate::email("credential.contact_email", &credential.contact_email)?;
    let application =
        validate::display_name("credential.application", &credential.application, 100)?;
    let scheme = credential.scheme?;
    let api_set_ids = grantable_api_sets(
        &app.index,
        &app.store,
        &account_id,
        "credential.api_sets",
        &credential.api_sets,
        &caller.principal,
    )
    .await?;
    let expire_time = validate::future_time(
        "credential.expire_time",
        credential.expire_time.as_ref(),
        now,
    )?;
    let identifier = if input.identifier.is_empty() {
        None
    } else {
        Some(identifier("identifier", &input.identifier)?)
    };

    let work = async |claim: &idempotency::Claim| {
        let account = app.store.get_account(&account_id).await?;
        if !account.verified {
            return Err(ServiceError::FailedPrecondition {
                reason: "ACCOUNT_NOT_VERIFIED",
                message: format!(
                    "account accounts/{account_id} is not verified: an operator must verify it before it can create API client credentials",
                ),
            });
        }
        let id = generated_id('c')?;
        let identifier = match identifier {
            Some(identifier) => identifier,
            None => generated_id('x')?.split_off(1),
        };
        let client_id = format!("{}{identifier}", account.client_id_prefix);
        let (secret, first_secret) = new_secret(app, &id, scheme).await?;
        let resource = credential_name(&account_id, &id);
        let stored = claim
            .store(&app.store, resource)
            .create_credential(NewCredential {
                id,
                account_id: account_id.clone(),
                client_id,
                display_name,
                description,
                application,
                contact_email,
                expire_time,
                creator: caller.principal.name(),
                api_set_ids,
                first_secret,
            })
            .await
            .map_err(write_error)?;
        Ok((secret, stored))
    };
    let once = idempotency::once(&app.store, &app.clock, request_key, work, |(_, stored)| {
        credential_name(&account_id, &stored.id)
    });
    let (secret, stored) = match once.await? {
        Once::Made(made) => made,
        Once::Replayed(resource) => {
            let (account_id, id) = names::credential("request_id", &resource)?;
            let stored = app.store.get_credential(&account_id, &id).await?;
            return Ok(Created {
                credential: show(app, stored).await?,
                secret: None,
            });
        }
    };
    let resource = credential_name(&account_id, &stored.id);
    let detail = format!("credential created ({})", stored.scheme.as_str());
    record_success(&app.store, caller, &account_id, &resource, detail).await;
    Ok(Created {
        credential: show(app, stored).await?,
        secret: Some(secret),
    })
}

/// A credential with its secret versions.
pub async fn get_credential(
    app: &AppState,
    caller: &Caller,
    input: CredentialRef,
) -> Result<CredentialView, ServiceError> {
    caller.authorize(&input.account_id)?;
    let stored = app
        .store
        .get_credential(&input.account_id, &input.id)
        .await?;
    show(app, stored).await
}

/// A page of an account's credentials, with their secret versions.
pub async fn list_credentials(
    app: &AppState,
    caller: &Caller,
    input: CredentialFilter,
) -> Result<CredentialPage, ServiceError> {
    caller.authorize(&input.account_id)?;
    let state = input.state?;
    let scheme = input.scheme?;
    let page = input.page.checked()?;
    let found = app
        .store
        .list_credentials(&input.account_id, state, scheme, page)
        .await?;
    let ids: Vec<String> = found.items.iter().map(|c| c.id.clone()).collect();
    let secrets = app.store.credential_secrets_of(&ids).await?;
    Ok(CredentialPage {
        credentials: found.items,
        secrets,
        next_after: found.next_after,
    })
}

/// Changes the fields of a credential its update mask names.
pub async fn update_credential(
    app: &AppState,
    caller: &Caller,
    input: CredentialChanges,
) -> Result<CredentialView, ServiceError> {
    let CredentialRef { account_id, id } = &input.credential;
    caller.authorize(account_id)?;
    let mask = validate::update_mask(
        "update_mask",
        input.update_mask.as_deref(),
        &["display_name", "description", "application", "api_sets"],
    )?;
    let mut update = CredentialUpdate::default();
    for path in &mask {
        match path.as_str() {
            "display_name" => {
                update.display_name = Some(validate::display_name(
                    "credential.display_name",
                    &input.display_name,
                    100,
                )?);
            }
            "description" => {
                update.description = Some(validate::text(
                    "credential.description",
                    &input.description,
                    1000,
                )?);
            }
            "application" => {
                update.application = Some(validate::display_name(
                    "credential.application",
                    &input.application,
                    100,
                )?);
            }
            _ => {
                update.api_set_ids = Some(
                    grantable_api_sets(
                        &app.index,
                        &app.store,
                        account_id,
                        "credential.api_sets",
                        &input.api_sets,
                        &caller.principal,
                    )
                    .await?,
                );
            }
        }
    }
    let revision = validate::etag("credential.etag", &input.etag)?;
    let updated = app
        .store
        .update_credential(account_id, id, update, revision)
        .await
        .map_err(write_error)?;
    let detail = format!("credential updated: {}", mask.join(", "));
    record_success(
        &app.store,
        caller,
        account_id,
        &input.credential.name(),
        detail,
    )
    .await;
    show(app, updated).await
}

/// Enables a credential.
pub async fn enable_credential(
    app: &AppState,
    caller: &Caller,
    input: CredentialAt,
) -> Result<CredentialView, ServiceError> {
    set_state(app, caller, input, CredentialState::Active).await
}

/// Disables a credential: its secrets stop verifying until it is enabled again.
pub async fn disable_credential(
    app: &AppState,
    caller: &Caller,
    input: CredentialAt,
) -> Result<CredentialView, ServiceError> {
    set_state(app, caller, input, CredentialState::Disabled).await
}

/// Puts a credential in `state`, audited when that changed it.
async fn set_state(
    app: &AppState,
    caller: &Caller,
    input: CredentialAt,
    state: CredentialState,
) -> Result<CredentialView, ServiceError> {
    let CredentialRef { account_id, id } = &input.credential;
    caller.authorize(account_id)?;
    let revision = validate::etag("etag", &input.etag)?;
    let before = app.store.get_credential(account_id, id).await?;
    let after = app
        .store
        .set_credential_state(account_id, id, state, revision)
        .await?;
    if after.revision != before.revision {
        let what = match state {
            CredentialState::Active => "credential enabled",
            CredentialState::Disabled => "credential disabled",
        };
        let name = input.credential.name();
        record_success(&app.store, caller, account_id, &name, what).await;
    }
    show(app, after).await
}

/// Gives a credential a new secret (once per request ID); the previous one keeps verifying
/// for the grace period asked.
pub async fn renew_credential_secret(
    app: &AppState,
    caller: &Caller,
    input: RenewalRequest,
) -> Result<Renewed, ServiceError> {
    let CredentialRef { account_id, id } = &input.credential;
    caller.authorize(account_id)?;
    let request_key = input.request_key?;
    let grace = grace_period(input.grace_period.as_ref())?;
    let revision = validate::etag("etag", &input.etag)?;
    let name = input.credential.name();
    let work = async |claim: &idempotency::Claim| {
        let current = app.store.get_credential(account_id, id).await?;
        let (secret, new_version) = new_secret(app, id, current.scheme).await?;
        let now = app.clock.now();
        let renewal = SecretRenewal {
            secret: new_version,
            grace_until: grace.map(|grace| now + grace),
        };
        let renewed = claim
            .store(&app.store, name.clone())
            .renew_credential_secret(account_id, id, renewal, revision, now)
            .await?;
        Ok((secret, renewed))
    };
    let once = idempotency::once(&app.store, &app.clock, request_key, work, |_| name.clone());
    let (secret, renewed) = match once.await? {
        Once::Made(made) => made,
        Once::Replayed(_) => {
            let stored = app.store.get_credential(account_id, id).await?;
            return Ok(Renewed {
                credential: show(app, stored).await?,
                secret: None,
                version: 0,
            });
        }
    };
    let detail = match grace {
        Some(grace) => format!(
            "credential secret renewed; the previous secret verifies for {}s more",
            grace.num_seconds()
        ),
        None => "credential secret renewed; the previous secret stopped at once".to_owned(),
    };
    let detail = format!("{detail} (new secret version {})", renewed.version);
    record_success(&app.store, caller, account_id, &name, detail).await;
    // The versions as this renewal's own transaction left them: a concurrent renewal
    // committed since does not show, so the caller sees which version is theirs.
    Ok(Renewed {
        credential: CredentialView {
            credential: renewed.credential,
            secrets: renewed.secrets,
        },
        secret: Some(secret),
        version: renewed.version,
    })
}

/// Deletes a credential.
pub async fn delete_credential(
    app: &AppState,
    caller: &Caller,
    input: CredentialAt,
) -> Result<(), ServiceError> {
    let CredentialRef { account_id, id } = &input.credential;
    caller.authorize(account_id)?;
    let revision = validate::etag("etag", &input.etag)?;
    app.store
        .delete_credential(account_id, id, revision)
        .await?;
    let name = input.credential.name();
    record_success(&app.store, caller, account_id, &name, "credential deleted").await;
    Ok(())
}

/// Counts a failed verification of `credential` for the audit log.
fn failed(app: &AppState, caller: &Caller, credential: &CredentialFacts, refusal: Refusal) {
    app.failures.count(
        &credential.account_id,
        &credential_name(&credential.account_id, &credential.id),
        caller.policy.method,
        refusal.as_str(),
    );
}

/// Notes that a secret version verified a signed request, for its last-used time
/// (coalesced; Basic secrets are noted by `judge_client_secret` itself).
fn secret_used(app: &AppState, matched: &ClientMatch) {
    let target = UsageTarget::CredentialSecret {
        credential_id: matched.credential.id.clone(),
        version: matched.version,
    };
    app.usage.note(target, app.clock.now());
}

/// The Client ID and secret presented, from `client_id` and `client_secret` or from a
/// Basic `authorization` header (exactly one of the two); None when the secret or the
/// header is malformed.
fn presented_secret(
    presented: &PresentedSecret<'_>,
) -> Result<Option<(String, Key)>, ServiceError> {
    match (
        presented.client_id.is_empty() && presented.client_secret.is_empty(),
        presented.authorization.is_empty(),
    ) {
        (true, true) => Err(ServiceError::invalid(
            "client_id",
            "give client_id and client_secret, or authorization",
        )),
        (false, false) => Err(ServiceError::invalid(
            "authorization",
            "give either client_id and client_secret, or authorization, not both",
        )),
        (false, true) => {
            if presented.client_id.is_empty() {
                return Err(ServiceError::invalid("client_id", "is required"));
            }
            if presented.client_secret.is_empty() {
                return Err(ServiceError::invalid("client_secret", "is required"));
            }
            Ok(
                Key::parse_kind(presented.client_secret, KeyKind::ClientSecret)
                    .ok()
                    .map(|secret| (presented.client_id.to_owned(), secret)),
            )
        }
        (true, false) => Ok(parse_basic(presented.authorization)),
    }
}

/// Judges a client secret a gateway was presented (`VerifyClientSecret`): a decision
/// whenever the gateway may ask; failures are counted for the audit log.
pub async fn verify_client_secret(
    app: &AppState,
    caller: &Caller,
    presented: PresentedSecret<'_>,
) -> Result<ClientDecision, ServiceError> {
    caller.authorize_own_account()?;
    let asked = Asked::parse(presented.api_set, presented.api_method)?;
    // A malformed secret or header is refused before any database work.
    let Some((client_id, secret)) = presented_secret(&presented)? else {
        return Ok(ClientDecision::Invalid);
    };
    let judgement = app
        .authenticator
        .judge_client_secret(&client_id, &secret)
        .await?;
    Ok(match judgement {
        ClientJudgement::Refused(known) => {
            match known {
                Some(credential) => failed(app, caller, &credential, Refusal::Invalid),
                None => app.failures.count_client_id(
                    &client_id,
                    caller.policy.method,
                    Refusal::Invalid.as_str(),
                ),
            }
            ClientDecision::Invalid
        }
        ClientJudgement::Throttled { credential, .. } => {
            failed(app, caller, &credential, Refusal::TooManyAttempts);
            ClientDecision::TooManyAttempts
        }
        ClientJudgement::RefusedMatched(refusal, matched) => {
            let refusal = Refusal::from(refusal);
            failed(app, caller, &matched.credential, refusal);
            let usable = usable_client_api_sets(&app.index, &matched.credential).await?;
            ClientDecision::Matched {
                matched,
                usable,
                refusal: Some(refusal),
            }
        }
        ClientJudgement::Valid(matched) => {
            let usable = usable_client_api_sets(&app.index, &matched.credential).await?;
            let refusal = if asked.allows(&app.index, &usable).await? {
                None
            } else {
                Some(Refusal::ApiSetNotAllowed)
            };
            ClientDecision::Matched {
                matched,
                usable,
                refusal,
            }
        }
    })
}

/// Judges an HMAC-signed request a gateway received (`VerifyHmacSignature`): a decision
/// whenever the gateway may ask; an accepted request claims its nonce; failures are
/// counted for the audit log.
pub async fn verify_hmac_signature(
    app: &AppState,
    caller: &Caller,
    call: SignedCall<'_>,
) -> Result<ClientDecision, ServiceError> {
    caller.authorize_own_account()?;
    let asked = Asked::parse(call.api_set, call.api_method)?;
    check_hmac_request(&call.signed)?;
    let now = app.clock.now();
    let judgement = judge_hmac(&app.index, &app.master_keys, &call.signed, now).await?;
    Ok(match judgement {
        HmacJudgement::Invalid(known) => {
            if let Some(credential) = known {
                failed(app, caller, &credential, Refusal::Invalid);
            }
            ClientDecision::Invalid
        }
        HmacJudgement::Matched {
            matched,
            refusal: Some(refusal),
            ..
        } => {
            let refusal = match refusal {
                HmacRefusal::Client(refusal) => Refusal::from(refusal),
                HmacRefusal::StaleTimestamp => Refusal::StaleTimestamp,
            };
            failed(app, caller, &matched.credential, refusal);
            let usable = usable_client_api_sets(&app.index, &matched.credential).await?;
            ClientDecision::Matched {
                matched: *matched,
                usable,
                refusal: Some(refusal),
            }
        }
        HmacJudgement::Matched {
            matched,
            refusal: None,
            header,
        } => {
            let usable = usable_client_api_sets(&app.index, &matched.credential).await?;
            let refusal = if !asked.allows(&app.index, &usable).await? {
                Some(Refusal::ApiSetNotAllowed)
            } else if !claim_nonce(&app.store, &matched.credential.id, &header, now).await? {
                failed(app, caller, &matched.credential, Refusal::ReplayedNonce);
                Some(Refusal::ReplayedNonce)
            } else {
                secret_used(app, &matched);
                None
            };
            ClientDecision::Matched {
                matched: *matched,
                usable,
                refusal,
            }
        }
    })
}

/// Judges the strings a secret scanner found and makes the real secrets useless
/// (`ReportLeakedSecrets`, see [`crate::leaks`]).
pub async fn report_leaked_secrets(
    app: &AppState,
    caller: &Caller,
    reported: &[Reported],
) -> Result<Vec<Verdict>, ServiceError> {
    caller.authorize_own_account()?;
    leaks::report(app, caller, reported).await
}
