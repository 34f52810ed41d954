//! `keyward.v1.CredentialService`: API client credentials and their verification.
//!
//! The gRPC edge: protobuf in, checked values, store calls, protobuf out. The judgement of
//! presented secrets lives in `crate::auth::authenticate` (Basic, shared with
//! authentication) and `crate::verification` (HMAC, API-set scope).
//!
//! Retrying a create or renew with the same `request_id` returns the credential as it is
//! and never a second secret: a secret is only in the response of the request that made
//! it. A retry cannot know whether that first response was seen, so it must assume it was;
//! a client that lost it renews the secret (the Client ID stays).

use chrono::Duration;
use keyward_core::key::{Key, KeyKind};
use keyward_store::{
    Credential, CredentialScheme, CredentialState, CredentialUpdate, NewCredential,
    NewSecretVersion, PageRequest, SecretMaterial, SecretRenewal, StoreError, Unique,
};
use prost::Message;
use secrecy::ExposeSecret;
use tonic::{Request, Response, Status};

use super::convert;
use super::pb::credential_service_server::CredentialService;
use super::pb::{
    self, CreateCredentialRequest, CreateCredentialResponse, DeleteCredentialRequest,
    DeleteCredentialResponse, DisableCredentialRequest, DisableCredentialResponse,
    EnableCredentialRequest, EnableCredentialResponse, GetCredentialRequest, GetCredentialResponse,
    ListCredentialsRequest, ListCredentialsResponse, RenewCredentialSecretRequest,
    RenewCredentialSecretResponse, ReportLeakedSecretsRequest, ReportLeakedSecretsResponse,
    UpdateCredentialRequest, UpdateCredentialResponse, VerifyClientSecretRequest,
    VerifyClientSecretResponse, VerifyHmacSignatureRequest, VerifyHmacSignatureResponse,
};
use crate::audit::record_success;
use crate::auth::Caller;
use crate::auth::authenticate::{ClientJudgement, ClientMatch, parse_basic};
use crate::auth::grants::grantable_api_sets;
use crate::error::ServiceError;
use crate::idempotency::{self, Begun};
use crate::identity::generated_id;
use crate::index::CredentialFacts;
use crate::judgement::ClientRefusal;
use crate::state::AppState;
use crate::usage::UsageTarget;
use crate::validate::{self, names, required};
use crate::verification::{
    Asked, HmacJudgement, HmacRefusal, HmacRequest, check_hmac_request, claim_nonce, judge_hmac,
    usable_client_api_sets,
};

/// Longest grace period a renewal may ask for.
const MAX_GRACE_PERIOD: Duration = Duration::days(7);

/// Serves `keyward.v1.CredentialService`.
#[derive(Debug, Clone)]
pub struct CredentialServiceImpl {
    state: AppState,
}

impl CredentialServiceImpl {
    /// A `CredentialService` over the application state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The credential with its secret versions, as the API shows it.
    async fn show(&self, credential: &Credential) -> Result<pb::Credential, ServiceError> {
        let secrets = self
            .state
            .store
            .list_credential_secrets(&credential.id)
            .await?;
        Ok(convert::credential(
            credential,
            &secrets,
            self.state.clock.now(),
        ))
    }

    /// A new client secret and its stored form: an argon2id hash for Basic, sealed under
    /// the master key for HMAC.
    async fn new_secret(
        &self,
        credential_id: &str,
        scheme: CredentialScheme,
    ) -> Result<(Key, NewSecretVersion), ServiceError> {
        let secret = Key::generate(KeyKind::ClientSecret)
            .map_err(|err| ServiceError::Internal(Box::new(err)))?;
        let material = match scheme {
            CredentialScheme::Basic => {
                SecretMaterial::Hash(self.state.hasher.hash_key(&secret).await?)
            }
            CredentialScheme::Hmac => self
                .state
                .master_keys
                .seal(credential_id, &secret)
                .map_err(|err| ServiceError::Internal(Box::new(err)))?,
        };
        let key_id = secret.id().as_str().to_owned();
        Ok((secret, NewSecretVersion { material, key_id }))
    }

    /// Counts a failed verification of `credential` for the audit log.
    fn failed(&self, caller: &Caller, credential: &CredentialFacts, reason: pb::decision::Reason) {
        self.state.failures.count(
            &credential.account_id,
            &convert::credential_name(&credential.account_id, &credential.id),
            caller.policy.method,
            reason.as_str_name(),
        );
    }

    /// Notes that a secret version verified a signed request, for its last-used time
    /// (coalesced; Basic secrets are noted by `judge_client_secret` itself).
    async fn secret_used(&self, matched: &ClientMatch) {
        let target = UsageTarget::CredentialSecret {
            credential_id: matched.credential.id.clone(),
            version: matched.version,
        };
        self.state.usage.note(target, self.state.clock.now());
    }

    async fn set_state(
        &self,
        caller: &Caller,
        name: &str,
        etag: &str,
        state: CredentialState,
    ) -> Result<pb::Credential, ServiceError> {
        let (account_id, id) = names::credential("name", name)?;
        caller.authorize(&account_id)?;
        let revision = validate::etag("etag", etag)?;
        let before = self.state.store.get_credential(&account_id, &id).await?;
        let after = self
            .state
            .store
            .set_credential_state(&account_id, &id, state, revision)
            .await?;
        if after.revision != before.revision {
            let what = match state {
                CredentialState::Active => "credential enabled",
                CredentialState::Disabled => "credential disabled",
            };
            record_success(&self.state.store, caller, &account_id, name, what).await;
        }
        self.show(&after).await
    }
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

fn scheme_from_pb(field: &str, value: i32) -> Result<CredentialScheme, ServiceError> {
    match pb::credential::Scheme::try_from(value) {
        Ok(pb::credential::Scheme::Basic) => Ok(CredentialScheme::Basic),
        Ok(pb::credential::Scheme::Hmac) => Ok(CredentialScheme::Hmac),
        _ => Err(ServiceError::invalid(
            field,
            "must be SCHEME_BASIC or SCHEME_HMAC",
        )),
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

/// The decision about a client whose secret matched, given its refusal (if any) and
/// whether it may use the asked scope.
/// The decision about a credential whose secret or signature matched, showing the API sets
/// it may use now (`usable`, from [`usable_client_api_sets`]).
fn decision_for(
    matched: &ClientMatch,
    usable: &[String],
    refusal: Option<pb::decision::Reason>,
) -> pb::Decision {
    convert::client_decision(
        &matched.credential,
        usable,
        matched.version,
        matched.expire_time(),
        refusal,
    )
}

fn client_reason(refusal: ClientRefusal) -> pb::decision::Reason {
    match refusal {
        ClientRefusal::Invalid => pb::decision::Reason::Invalid,
        ClientRefusal::Expired => pb::decision::Reason::Expired,
        ClientRefusal::Disabled => pb::decision::Reason::Disabled,
    }
}

#[tonic::async_trait]
impl CredentialService for CredentialServiceImpl {
    async fn create_credential(
        &self,
        request: Request<CreateCredentialRequest>,
    ) -> Result<Response<CreateCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut req = request.into_inner();
        let account_id = names::account("parent", &req.parent)?;
        caller.authorize(&account_id)?;
        let request_id = std::mem::take(&mut req.request_id);
        let request_key = idempotency::request_key(&caller, &request_id, &req.encode_to_vec())?;
        let credential = required("credential", req.credential)?;
        let now = self.state.clock.now();
        let display_name =
            validate::display_name("credential.display_name", &credential.display_name, 100)?;
        let description = validate::text("credential.description", &credential.description, 1000)?;
        let contact_email = validate::email("credential.contact_email", &credential.contact_email)?;
        let application =
            validate::display_name("credential.application", &credential.application, 100)?;
        let scheme = scheme_from_pb("credential.scheme", credential.scheme)?;
        let api_set_ids = grantable_api_sets(
            &self.state.index,
            &self.state.store,
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
        let identifier = if req.identifier.is_empty() {
            None
        } else {
            Some(identifier("identifier", &req.identifier)?)
        };

        let claim =
            match idempotency::begin(&self.state.store, &self.state.clock, request_key).await? {
                Begun::Claimed(claim) => claim,
                Begun::Done(resource) => {
                    let (account_id, id) = names::credential("request_id", &resource)?;
                    let stored = self
                        .state
                        .store
                        .get_credential(&account_id, &id)
                        .await
                        .map_err(ServiceError::from)?;
                    return Ok(Response::new(CreateCredentialResponse {
                        credential: Some(self.show(&stored).await?),
                        client_secret: String::new(),
                    }));
                }
            };

        let work = async {
            let account = self
                .state
                .store
                .get_account(&account_id)
                .await
                .map_err(ServiceError::from)?;
            if !account.verified {
                return Err(ServiceError::FailedPrecondition {
                    reason: "ACCOUNT_NOT_VERIFIED",
                    message: format!(
                        "account {} is not verified: an operator must verify it before it can create API client credentials",
                        req.parent
                    ),
                });
            }
            let id = generated_id('c')?;
            let identifier = match identifier {
                Some(identifier) => identifier,
                None => generated_id('x')?.split_off(1),
            };
            let client_id = format!("{}{identifier}", account.client_id_prefix);
            let (secret, first_secret) = self.new_secret(&id, scheme).await?;
            let resource = convert::credential_name(&account_id, &id);
            let stored = claim
                .store(&self.state.store, resource)
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
            Ok::<_, ServiceError>((secret, stored))
        };
        let worked = work.await;
        let (secret, stored) = claim
            .settle(&self.state.store, worked, |(_, stored)| {
                convert::credential_name(&account_id, &stored.id)
            })
            .await?;
        let resource = convert::credential_name(&account_id, &stored.id);
        record_success(
            &self.state.store,
            &caller,
            &account_id,
            &resource,
            format!("credential created ({})", stored.scheme.as_str()),
        )
        .await;
        Ok(Response::new(CreateCredentialResponse {
            credential: Some(self.show(&stored).await?),
            client_secret: secret.to_token().expose_secret().to_owned(),
        }))
    }

    async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> Result<Response<GetCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let (account_id, id) = names::credential("name", &request.get_ref().name)?;
        caller.authorize(&account_id)?;
        let stored = self
            .state
            .store
            .get_credential(&account_id, &id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(GetCredentialResponse {
            credential: Some(self.show(&stored).await?),
        }))
    }

    async fn list_credentials(
        &self,
        request: Request<ListCredentialsRequest>,
    ) -> Result<Response<ListCredentialsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let account_id = names::account("parent", &req.parent)?;
        caller.authorize(&account_id)?;
        let state = match pb::credential::State::try_from(req.state) {
            Ok(pb::credential::State::Unspecified) => None,
            Ok(pb::credential::State::Active) => Some(CredentialState::Active),
            Ok(pb::credential::State::Disabled) => Some(CredentialState::Disabled),
            Err(_) => {
                return Err(ServiceError::invalid("state", "is not a credential state").into());
            }
        };
        let scheme = if req.scheme == 0 {
            None
        } else {
            Some(scheme_from_pb("scheme", req.scheme)?)
        };
        let page = PageRequest {
            after: validate::page_token("page_token", &req.page_token)?,
            limit: validate::page_size("page_size", req.page_size)?,
        };
        let found = self
            .state
            .store
            .list_credentials(&account_id, state, scheme, page)
            .await
            .map_err(ServiceError::from)?;
        let ids: Vec<String> = found.items.iter().map(|c| c.id.clone()).collect();
        let mut secrets = self
            .state
            .store
            .credential_secrets_of(&ids)
            .await
            .map_err(ServiceError::from)?;
        let now = self.state.clock.now();
        Ok(Response::new(ListCredentialsResponse {
            credentials: found
                .items
                .iter()
                .map(|c| convert::credential(c, &secrets.remove(&c.id).unwrap_or_default(), now))
                .collect(),
            next_page_token: convert::next_page_token(found.next_after.as_deref()),
        }))
    }

    async fn update_credential(
        &self,
        request: Request<UpdateCredentialRequest>,
    ) -> Result<Response<UpdateCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let credential = required("credential", req.credential)?;
        let (account_id, id) = names::credential("credential.name", &credential.name)?;
        caller.authorize(&account_id)?;
        let mask = validate::update_mask(
            "update_mask",
            req.update_mask.as_ref().map(|m| m.paths.as_slice()),
            &["display_name", "description", "application", "api_sets"],
        )?;
        let mut update = CredentialUpdate::default();
        for path in &mask {
            match path.as_str() {
                "display_name" => {
                    update.display_name = Some(validate::display_name(
                        "credential.display_name",
                        &credential.display_name,
                        100,
                    )?);
                }
                "description" => {
                    update.description = Some(validate::text(
                        "credential.description",
                        &credential.description,
                        1000,
                    )?);
                }
                "application" => {
                    update.application = Some(validate::display_name(
                        "credential.application",
                        &credential.application,
                        100,
                    )?);
                }
                _ => {
                    update.api_set_ids = Some(
                        grantable_api_sets(
                            &self.state.index,
                            &self.state.store,
                            &account_id,
                            "credential.api_sets",
                            &credential.api_sets,
                            &caller.principal,
                        )
                        .await?,
                    );
                }
            }
        }
        let revision = validate::etag("credential.etag", &credential.etag)?;
        let updated = self
            .state
            .store
            .update_credential(&account_id, &id, update, revision)
            .await
            .map_err(write_error)?;
        record_success(
            &self.state.store,
            &caller,
            &account_id,
            &credential.name,
            format!("credential updated: {}", mask.join(", ")),
        )
        .await;
        Ok(Response::new(UpdateCredentialResponse {
            credential: Some(self.show(&updated).await?),
        }))
    }

    async fn enable_credential(
        &self,
        request: Request<EnableCredentialRequest>,
    ) -> Result<Response<EnableCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let credential = self
            .set_state(&caller, &req.name, &req.etag, CredentialState::Active)
            .await?;
        Ok(Response::new(EnableCredentialResponse {
            credential: Some(credential),
        }))
    }

    async fn disable_credential(
        &self,
        request: Request<DisableCredentialRequest>,
    ) -> Result<Response<DisableCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let credential = self
            .set_state(&caller, &req.name, &req.etag, CredentialState::Disabled)
            .await?;
        Ok(Response::new(DisableCredentialResponse {
            credential: Some(credential),
        }))
    }

    async fn renew_credential_secret(
        &self,
        request: Request<RenewCredentialSecretRequest>,
    ) -> Result<Response<RenewCredentialSecretResponse>, Status> {
        let caller = Caller::of(&request)?;
        let mut req = request.into_inner();
        let (account_id, id) = names::credential("name", &req.name)?;
        caller.authorize(&account_id)?;
        let request_id = std::mem::take(&mut req.request_id);
        let request_key = idempotency::request_key(&caller, &request_id, &req.encode_to_vec())?;
        let grace = grace_period(req.grace_period.as_ref())?;
        let revision = validate::etag("etag", &req.etag)?;
        let claim =
            match idempotency::begin(&self.state.store, &self.state.clock, request_key).await? {
                Begun::Claimed(claim) => claim,
                Begun::Done(_) => {
                    let stored = self
                        .state
                        .store
                        .get_credential(&account_id, &id)
                        .await
                        .map_err(ServiceError::from)?;
                    return Ok(Response::new(RenewCredentialSecretResponse {
                        credential: Some(self.show(&stored).await?),
                        client_secret: String::new(),
                        secret_version: 0,
                    }));
                }
            };
        let work = async {
            let current = self
                .state
                .store
                .get_credential(&account_id, &id)
                .await
                .map_err(ServiceError::from)?;
            let (secret, new_version) = self.new_secret(&id, current.scheme).await?;
            let now = self.state.clock.now();
            let renewed = claim
                .store(&self.state.store, req.name.clone())
                .renew_credential_secret(
                    &account_id,
                    &id,
                    SecretRenewal {
                        secret: new_version,
                        grace_until: grace.map(|grace| now + grace),
                    },
                    revision,
                    now,
                )
                .await
                .map_err(ServiceError::from)?;
            Ok::<_, ServiceError>((secret, renewed))
        };
        let worked = work.await;
        let (secret, renewed) = claim
            .settle(&self.state.store, worked, |_| req.name.clone())
            .await?;
        let detail = match grace {
            Some(grace) => format!(
                "credential secret renewed; the previous secret verifies for {}s more",
                grace.num_seconds()
            ),
            None => "credential secret renewed; the previous secret stopped at once".to_owned(),
        };
        let detail = format!("{detail} (new secret version {})", renewed.version);
        record_success(&self.state.store, &caller, &account_id, &req.name, detail).await;
        // The versions as this renewal's own transaction left them: a concurrent renewal
        // committed since does not show, so the caller sees which version is theirs.
        let credential = convert::credential(
            &renewed.credential,
            &renewed.secrets,
            self.state.clock.now(),
        );
        Ok(Response::new(RenewCredentialSecretResponse {
            credential: Some(credential),
            client_secret: secret.to_token().expose_secret().to_owned(),
            secret_version: renewed.version,
        }))
    }

    async fn delete_credential(
        &self,
        request: Request<DeleteCredentialRequest>,
    ) -> Result<Response<DeleteCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let (account_id, id) = names::credential("name", &req.name)?;
        caller.authorize(&account_id)?;
        let revision = validate::etag("etag", &req.etag)?;
        self.state
            .store
            .delete_credential(&account_id, &id, revision)
            .await
            .map_err(ServiceError::from)?;
        record_success(
            &self.state.store,
            &caller,
            &account_id,
            &req.name,
            "credential deleted",
        )
        .await;
        Ok(Response::new(DeleteCredentialResponse {}))
    }

    async fn verify_client_secret(
        &self,
        request: Request<VerifyClientSecretRequest>,
    ) -> Result<Response<VerifyClientSecretResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let req = request.into_inner();
        let asked = Asked::parse(&req.api_set, &req.api_method)?;
        let presented = match (
            req.client_id.is_empty() && req.client_secret.is_empty(),
            req.authorization.is_empty(),
        ) {
            (true, true) => {
                return Err(ServiceError::invalid(
                    "client_id",
                    "give client_id and client_secret, or authorization",
                )
                .into());
            }
            (false, false) => {
                return Err(ServiceError::invalid(
                    "authorization",
                    "give either client_id and client_secret, or authorization, not both",
                )
                .into());
            }
            (false, true) => {
                if req.client_id.is_empty() {
                    return Err(ServiceError::invalid("client_id", "is required").into());
                }
                if req.client_secret.is_empty() {
                    return Err(ServiceError::invalid("client_secret", "is required").into());
                }
                Key::parse_kind(&req.client_secret, KeyKind::ClientSecret)
                    .ok()
                    .map(|secret| (req.client_id.clone(), secret))
            }
            (true, false) => parse_basic(&req.authorization),
        };
        // A malformed secret or header is refused before any database work.
        let Some((client_id, secret)) = presented else {
            let decision = convert::invalid_decision();
            convert::count_decision("VerifyClientSecret", &decision);
            return Ok(Response::new(VerifyClientSecretResponse {
                decision: Some(decision),
            }));
        };
        let judgement = self
            .state
            .authenticator
            .judge_client_secret(&client_id, &secret)
            .await?;
        let decision = match judgement {
            ClientJudgement::Refused(known) => {
                match known {
                    Some(credential) => {
                        self.failed(&caller, &credential, pb::decision::Reason::Invalid);
                    }
                    None => self.state.failures.count_client_id(
                        &client_id,
                        caller.policy.method,
                        pb::decision::Reason::Invalid.as_str_name(),
                    ),
                }
                convert::invalid_decision()
            }
            ClientJudgement::Throttled { credential, .. } => {
                self.failed(&caller, &credential, pb::decision::Reason::TooManyAttempts);
                convert::too_many_attempts_decision()
            }
            ClientJudgement::RefusedMatched(refusal, matched) => {
                self.failed(&caller, &matched.credential, client_reason(refusal));
                let usable = usable_client_api_sets(&self.state.index, &matched.credential).await?;
                decision_for(&matched, &usable, Some(client_reason(refusal)))
            }
            ClientJudgement::Valid(matched) => {
                let usable = usable_client_api_sets(&self.state.index, &matched.credential).await?;
                if asked.allows(&self.state.index, &usable).await? {
                    decision_for(&matched, &usable, None)
                } else {
                    let reason = pb::decision::Reason::ApiSetNotAllowed;
                    decision_for(&matched, &usable, Some(reason))
                }
            }
        };
        convert::count_decision("VerifyClientSecret", &decision);
        Ok(Response::new(VerifyClientSecretResponse {
            decision: Some(decision),
        }))
    }

    async fn report_leaked_secrets(
        &self,
        request: Request<ReportLeakedSecretsRequest>,
    ) -> Result<Response<ReportLeakedSecretsResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let reported: Vec<crate::leaks::Reported> = request
            .into_inner()
            .secrets
            .into_iter()
            .map(|found| crate::leaks::Reported {
                secret: found.secret.into(),
                location: found.location,
            })
            .collect();
        let verdicts = crate::leaks::report(&self.state, &caller, &reported).await?;
        Ok(Response::new(ReportLeakedSecretsResponse {
            results: verdicts.into_iter().map(convert::leak_report).collect(),
        }))
    }

    async fn verify_hmac_signature(
        &self,
        request: Request<VerifyHmacSignatureRequest>,
    ) -> Result<Response<VerifyHmacSignatureResponse>, Status> {
        let caller = Caller::of(&request)?;
        caller.authorize_own_account()?;
        let req = request.into_inner();
        let asked = Asked::parse(&req.api_set, &req.api_method)?;
        let signed = HmacRequest {
            authorization: &req.authorization,
            request: keyward_core::signing::SignedRequest {
                method: &req.http_method,
                path: &req.path,
                query: &req.query,
                body_sha256: &req.body_sha256,
            },
        };
        check_hmac_request(&signed)?;
        let now = self.state.clock.now();
        let judgement =
            judge_hmac(&self.state.index, &self.state.master_keys, &signed, now).await?;
        let decision = match judgement {
            HmacJudgement::Invalid(known) => {
                if let Some(credential) = known {
                    self.failed(&caller, &credential, pb::decision::Reason::Invalid);
                }
                convert::invalid_decision()
            }
            HmacJudgement::Matched {
                matched,
                refusal: Some(refusal),
                ..
            } => {
                let reason = match refusal {
                    HmacRefusal::Client(refusal) => client_reason(refusal),
                    HmacRefusal::StaleTimestamp => pb::decision::Reason::StaleTimestamp,
                };
                self.failed(&caller, &matched.credential, reason);
                let usable = usable_client_api_sets(&self.state.index, &matched.credential).await?;
                decision_for(&matched, &usable, Some(reason))
            }
            HmacJudgement::Matched {
                matched,
                refusal: None,
                header,
            } => {
                let usable = usable_client_api_sets(&self.state.index, &matched.credential).await?;
                if !asked.allows(&self.state.index, &usable).await? {
                    let reason = pb::decision::Reason::ApiSetNotAllowed;
                    decision_for(&matched, &usable, Some(reason))
                } else if !claim_nonce(&self.state.store, &matched.credential.id, &header, now)
                    .await?
                {
                    let reason = pb::decision::Reason::ReplayedNonce;
                    self.failed(&caller, &matched.credential, reason);
                    decision_for(&matched, &usable, Some(reason))
                } else {
                    self.secret_used(&matched).await;
                    decision_for(&matched, &usable, None)
                }
            }
        };
        convert::count_decision("VerifyHmacSignature", &decision);
        Ok(Response::new(VerifyHmacSignatureResponse {
            decision: Some(decision),
        }))
    }
}
