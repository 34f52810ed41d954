//! `keyward.v1.CredentialService`: API client credentials and their verification.
//!
//! The gRPC edge: protobuf in, parsed into the inputs of `crate::usecases::credentials`,
//! whose answers go back out as protobuf. What a retried create or renewal answers, and
//! where presented secrets are judged, is said there.

use keyward_core::key::Key;
use keyward_core::signing::SignedRequest;
use keyward_store::{CredentialScheme, CredentialState};
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
use crate::auth::Caller;
use crate::error::ServiceError;
use crate::idempotency;
use crate::leaks::Reported;
use crate::state::AppState;
use crate::usecases::credentials::{
    self, ClientDecision, CredentialAt, CredentialChanges, CredentialFields, CredentialFilter,
    CredentialRef, CredentialView, NewCredentialRequest, PresentedSecret, Refusal, RenewalRequest,
    SignedCall,
};
use crate::validate::{names, required};
use crate::verification::HmacRequest;

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

    /// The credential with its secret versions, as the API shows it now.
    fn show(&self, view: &CredentialView) -> pb::Credential {
        convert::credential(&view.credential, &view.secrets, self.state.clock.now())
    }
}

/// `accounts/{account}/credentials/{credential}` in the request field `field`.
fn credential_ref(field: &str, name: &str) -> Result<CredentialRef, ServiceError> {
    let (account_id, id) = names::credential(field, name)?;
    Ok(CredentialRef { account_id, id })
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

/// A new secret as the response carries it: empty when the request made none.
fn client_secret(secret: Option<&Key>) -> String {
    secret.map_or_else(String::new, |secret| {
        secret.to_token().expose_secret().to_owned()
    })
}

fn parse_create(
    caller: &Caller,
    mut req: CreateCredentialRequest,
) -> Result<NewCredentialRequest, ServiceError> {
    let account_id = names::account("parent", &req.parent)?;
    let request_id = std::mem::take(&mut req.request_id);
    let request_key = idempotency::request_key(caller, &request_id, &req.encode_to_vec());
    Ok(NewCredentialRequest {
        account_id,
        request_key,
        credential: req.credential.map(CredentialFields::from),
        identifier: req.identifier,
    })
}

impl From<pb::Credential> for CredentialFields {
    fn from(credential: pb::Credential) -> Self {
        CredentialFields {
            display_name: credential.display_name,
            description: credential.description,
            contact_email: credential.contact_email,
            application: credential.application,
            scheme: scheme_from_pb("credential.scheme", credential.scheme),
            api_sets: credential.api_sets,
            expire_time: credential.expire_time,
        }
    }
}

impl TryFrom<GetCredentialRequest> for CredentialRef {
    type Error = ServiceError;

    fn try_from(req: GetCredentialRequest) -> Result<Self, ServiceError> {
        credential_ref("name", &req.name)
    }
}

impl TryFrom<ListCredentialsRequest> for CredentialFilter {
    type Error = ServiceError;

    fn try_from(req: ListCredentialsRequest) -> Result<Self, ServiceError> {
        let account_id = names::account("parent", &req.parent)?;
        let state = match pb::credential::State::try_from(req.state) {
            Ok(pb::credential::State::Unspecified) => Ok(None),
            Ok(pb::credential::State::Active) => Ok(Some(CredentialState::Active)),
            Ok(pb::credential::State::Disabled) => Ok(Some(CredentialState::Disabled)),
            Err(_) => Err(ServiceError::invalid("state", "is not a credential state")),
        };
        let scheme = match req.scheme {
            0 => Ok(None),
            scheme => scheme_from_pb("scheme", scheme).map(Some),
        };
        Ok(CredentialFilter {
            account_id,
            state,
            scheme,
            page: super::page_query(req.page_size, req.page_token),
        })
    }
}

impl TryFrom<UpdateCredentialRequest> for CredentialChanges {
    type Error = ServiceError;

    fn try_from(req: UpdateCredentialRequest) -> Result<Self, ServiceError> {
        let credential = required("credential", req.credential)?;
        Ok(CredentialChanges {
            credential: credential_ref("credential.name", &credential.name)?,
            update_mask: req.update_mask.map(|mask| mask.paths),
            display_name: credential.display_name,
            description: credential.description,
            application: credential.application,
            api_sets: credential.api_sets,
            etag: credential.etag,
        })
    }
}

/// The requests that name a credential and the etag their caller last saw.
macro_rules! credential_at {
    ($($request:ty),*) => {$(
        impl TryFrom<$request> for CredentialAt {
            type Error = ServiceError;

            fn try_from(req: $request) -> Result<Self, ServiceError> {
                Ok(CredentialAt { credential: credential_ref("name", &req.name)?, etag: req.etag })
            }
        }
    )*};
}

credential_at!(
    EnableCredentialRequest,
    DisableCredentialRequest,
    DeleteCredentialRequest
);

fn parse_renewal(
    caller: &Caller,
    mut req: RenewCredentialSecretRequest,
) -> Result<RenewalRequest, ServiceError> {
    let credential = credential_ref("name", &req.name)?;
    let request_id = std::mem::take(&mut req.request_id);
    let request_key = idempotency::request_key(caller, &request_id, &req.encode_to_vec());
    Ok(RenewalRequest {
        credential,
        request_key,
        grace_period: req.grace_period,
        etag: req.etag,
    })
}

impl<'a> From<&'a VerifyClientSecretRequest> for PresentedSecret<'a> {
    fn from(req: &'a VerifyClientSecretRequest) -> Self {
        PresentedSecret {
            client_id: &req.client_id,
            client_secret: &req.client_secret,
            authorization: &req.authorization,
            api_set: &req.api_set,
            api_method: &req.api_method,
        }
    }
}

impl<'a> From<&'a VerifyHmacSignatureRequest> for SignedCall<'a> {
    fn from(req: &'a VerifyHmacSignatureRequest) -> Self {
        SignedCall {
            signed: HmacRequest {
                authorization: &req.authorization,
                request: SignedRequest {
                    method: &req.http_method,
                    path: &req.path,
                    query: &req.query,
                    body_sha256: &req.body_sha256,
                },
            },
            api_set: &req.api_set,
            api_method: &req.api_method,
        }
    }
}

/// The decision reason of a refusal.
fn reason(refusal: Refusal) -> pb::decision::Reason {
    use pb::decision::Reason;
    match refusal {
        Refusal::Invalid => Reason::Invalid,
        Refusal::Expired => Reason::Expired,
        Refusal::Disabled => Reason::Disabled,
        Refusal::ApiSetNotAllowed => Reason::ApiSetNotAllowed,
        Refusal::StaleTimestamp => Reason::StaleTimestamp,
        Refusal::ReplayedNonce => Reason::ReplayedNonce,
        Refusal::TooManyAttempts => Reason::TooManyAttempts,
    }
}

/// The decision of the verification RPC `rpc` in the API, counted for the metrics. A
/// credential whose secret or signature matched shows the API sets it may use now.
fn decision(rpc: &'static str, decision: ClientDecision) -> pb::Decision {
    let decision = match decision {
        ClientDecision::Invalid => convert::invalid_decision(),
        ClientDecision::TooManyAttempts => convert::too_many_attempts_decision(),
        ClientDecision::Matched {
            matched,
            usable,
            refusal,
        } => convert::client_decision(
            &matched.credential,
            &usable,
            matched.version,
            matched.expire_time(),
            refusal.map(reason),
        ),
    };
    convert::count_decision(rpc, &decision);
    decision
}

#[tonic::async_trait]
impl CredentialService for CredentialServiceImpl {
    async fn create_credential(
        &self,
        request: Request<CreateCredentialRequest>,
    ) -> Result<Response<CreateCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = parse_create(&caller, request.into_inner())?;
        let created = credentials::create_credential(&self.state, &caller, input).await?;
        Ok(Response::new(CreateCredentialResponse {
            credential: Some(self.show(&created.credential)),
            client_secret: client_secret(created.secret.as_ref()),
        }))
    }

    async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> Result<Response<GetCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = CredentialRef::try_from(request.into_inner())?;
        let credential = credentials::get_credential(&self.state, &caller, input).await?;
        Ok(Response::new(GetCredentialResponse {
            credential: Some(self.show(&credential)),
        }))
    }

    async fn list_credentials(
        &self,
        request: Request<ListCredentialsRequest>,
    ) -> Result<Response<ListCredentialsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = CredentialFilter::try_from(request.into_inner())?;
        let mut page = credentials::list_credentials(&self.state, &caller, input).await?;
        let now = self.state.clock.now();
        let credentials = page
            .credentials
            .iter()
            .map(|c| convert::credential(c, &page.secrets.remove(&c.id).unwrap_or_default(), now));
        Ok(Response::new(ListCredentialsResponse {
            credentials: credentials.collect(),
            next_page_token: convert::next_page_token(page.next_after.as_deref()),
        }))
    }

    async fn update_credential(
        &self,
        request: Request<UpdateCredentialRequest>,
    ) -> Result<Response<UpdateCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = CredentialChanges::try_from(request.into_inner())?;
        let credential = credentials::update_credential(&self.state, &caller, input).await?;
        Ok(Response::new(UpdateCredentialResponse {
            credential: Some(self.show(&credential)),
        }))
    }

    async fn enable_credential(
        &self,
        request: Request<EnableCredentialRequest>,
    ) -> Result<Response<EnableCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = CredentialAt::try_from(request.into_inner())?;
        let credential = credentials::enable_credential(&self.state, &caller, input).await?;
        Ok(Response::new(EnableCredentialResponse {
            credential: Some(self.show(&credential)),
        }))
    }

    async fn disable_credential(
        &self,
        request: Request<DisableCredentialRequest>,
    ) -> Result<Response<DisableCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = CredentialAt::try_from(request.into_inner())?;
        let credential = credentials::disable_credential(&self.state, &caller, input).await?;
        Ok(Response::new(DisableCredentialResponse {
            credential: Some(self.show(&credential)),
        }))
    }

    async fn renew_credential_secret(
        &self,
        request: Request<RenewCredentialSecretRequest>,
    ) -> Result<Response<RenewCredentialSecretResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = parse_renewal(&caller, request.into_inner())?;
        let renewed = credentials::renew_credential_secret(&self.state, &caller, input).await?;
        Ok(Response::new(RenewCredentialSecretResponse {
            credential: Some(self.show(&renewed.credential)),
            client_secret: client_secret(renewed.secret.as_ref()),
            secret_version: renewed.version,
        }))
    }

    async fn delete_credential(
        &self,
        request: Request<DeleteCredentialRequest>,
    ) -> Result<Response<DeleteCredentialResponse>, Status> {
        let caller = Caller::of(&request)?;
        let input = CredentialAt::try_from(request.into_inner())?;
        credentials::delete_credential(&self.state, &caller, input).await?;
        Ok(Response::new(DeleteCredentialResponse {}))
    }

    async fn verify_client_secret(
        &self,
        request: Request<VerifyClientSecretRequest>,
    ) -> Result<Response<VerifyClientSecretResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let presented = PresentedSecret::from(&req);
        let judged = credentials::verify_client_secret(&self.state, &caller, presented).await?;
        Ok(Response::new(VerifyClientSecretResponse {
            decision: Some(decision("VerifyClientSecret", judged)),
        }))
    }

    async fn report_leaked_secrets(
        &self,
        request: Request<ReportLeakedSecretsRequest>,
    ) -> Result<Response<ReportLeakedSecretsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let reported: Vec<Reported> = request
            .into_inner()
            .secrets
            .into_iter()
            .map(|found| Reported {
                secret: found.secret.into(),
                location: found.location,
            })
            .collect();
        let verdicts = credentials::report_leaked_secrets(&self.state, &caller, &reported).await?;
        Ok(Response::new(ReportLeakedSecretsResponse {
            results: verdicts.into_iter().map(convert::leak_report).collect(),
        }))
    }

    async fn verify_hmac_signature(
        &self,
        request: Request<VerifyHmacSignatureRequest>,
    ) -> Result<Response<VerifyHmacSignatureResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let call = SignedCall::from(&req);
        let judged = credentials::verify_hmac_signature(&self.state, &caller, call).await?;
        Ok(Response::new(VerifyHmacSignatureResponse {
            decision: Some(decision("VerifyHmacSignature", judged)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Failures are audited under the use case's names of the reasons: they are the API's.
    #[test]
    fn refusals_are_audited_under_the_names_of_their_api_reasons() {
        for refusal in [
            Refusal::Invalid,
            Refusal::Expired,
            Refusal::Disabled,
            Refusal::ApiSetNotAllowed,
            Refusal::StaleTimestamp,
            Refusal::ReplayedNonce,
            Refusal::TooManyAttempts,
        ] {
            assert_eq!(refusal.as_str(), reason(refusal).as_str_name());
        }
    }
}
