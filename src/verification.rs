//! What the three verification RPCs share: the API-set question a gateway asks with a
//! credential ("may it call this API set, or this method?"), and finding and checking the
//! credential of an HMAC-signed request. The rules themselves are in [`crate::judgement`];
//! the facts come from the verification index.
//!
//! A verification answers OK with a decision whenever the gateway was allowed to ask;
//! errors are only for the gateway's own mistakes (a malformed `api_set`, both `api_set` and
//! `api_method`, a missing required field) and for a server that cannot answer now.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use keyward_core::key::Key;
use keyward_core::signing::{self, AuthorizationHeader, SignedRequest, SigningError};
use keyward_store::Store;

use crate::auth::authenticate::ClientMatch;
use crate::auth::memo::Question;
use crate::error::ServiceError;
use crate::index::facts::entitlements_of;
use crate::index::{Catalog, CredentialFacts, Material, VerificationIndex, id_text};
use crate::judgement::{self, ClientRefusal, HMAC_WINDOW, Scope};
use crate::sealing::MasterKeys;
use crate::validate::names;

/// What a verification request asks about besides validity: an API set, a method, or
/// neither; read from its `api_set` and `api_method` fields, the same for the three
/// verification RPCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Only whether the credential is valid.
    Validity,
    /// May it use this API set (an ID)?
    ApiSet(String),
    /// May it call this method (fully qualified, as listed in API sets)?
    Method(String),
}

impl Asked {
    /// Reads the `api_set` and `api_method` fields: at most one of them.
    pub fn parse(api_set: &str, api_method: &str) -> Result<Self, ServiceError> {
        match (api_set.is_empty(), api_method.is_empty()) {
            (true, true) => Ok(Asked::Validity),
            (false, false) => Err(ServiceError::invalid(
                "api_method",
                "give either api_set or api_method, not both",
            )),
            (false, true) => Ok(Asked::ApiSet(names::api_set("api_set", api_set)?)),
            (true, false) if is_method(api_method) => Ok(Asked::Method(api_method.to_owned())),
            (true, false) => Err(ServiceError::invalid(
                "api_method",
                "must be 1 to 200 characters without spaces, for example \
                 `/billing.v1.InvoiceService/ListInvoices`",
            )),
        }
    }

    /// The question as the memo of outcomes tells questions apart.
    pub fn question(&self) -> Question<'_> {
        match self {
            Asked::Validity => Question::validity(),
            Asked::ApiSet(id) => Question::api_set(id),
            Asked::Method(method) => Question::method(method),
        }
    }

    /// The catalog, when the question names a method (only then is it needed).
    pub async fn catalog(
        &self,
        index: &VerificationIndex,
    ) -> Result<Option<Arc<Catalog>>, ServiceError> {
        match self {
            Asked::Method(_) => Ok(Some(index.catalog().await?)),
            _ => Ok(None),
        }
    }

    /// The scope to judge a credential in; a method is looked up in `catalog` (from
    /// [`Asked::catalog`]; a method in no API set, or no catalog, is held by nobody).
    pub fn scope<'a>(&'a self, catalog: Option<&'a Catalog>) -> Scope<'a> {
        match self {
            Asked::Validity => Scope::Validity,
            Asked::ApiSet(id) => Scope::ApiSet(id),
            Asked::Method(method) => {
                Scope::AnyOf(catalog.map_or(&[], |catalog| catalog.sets_containing(method)))
            }
        }
    }

    /// Whether a credential holding `held` (API-set IDs) may be used for what is asked,
    /// by the one API-set rule ([`Scope::permits`]). An API set not in the catalog, or a
    /// method in no API set, is held by nobody.
    pub async fn allows(
        &self,
        index: &VerificationIndex,
        held: &[String],
    ) -> Result<bool, ServiceError> {
        let catalog = self.catalog(index).await?;
        Ok(self.scope(catalog.as_deref()).permits(held))
    }
}

/// The API sets a client credential may use now: those it holds that its account is
/// entitled to ([`judgement::usable_api_sets`]), sorted.
pub async fn usable_client_api_sets(
    index: &VerificationIndex,
    credential: &CredentialFacts,
) -> Result<Vec<String>, ServiceError> {
    let account = index.account(&credential.account).await?;
    Ok(
        judgement::usable_api_sets(&credential.api_set_ids, entitlements_of(account.as_deref()))
            .cloned()
            .collect(),
    )
}

/// A method name as API sets list them: 1 to 200 characters, no whitespace or control
/// characters.
pub fn is_method(value: &str) -> bool {
    (1..=200).contains(&value.len()) && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An HMAC-signed request as a gateway received it.
#[derive(Debug, Clone, Copy)]
pub struct HmacRequest<'a> {
    /// The raw `Authorization` header value.
    pub authorization: &'a str,
    /// The parts of the request the signature covers.
    pub request: SignedRequest<'a>,
}

/// Checks the request fields the gateway itself provides; the end user's header is judged,
/// not refused.
pub fn check_hmac_request(request: &HmacRequest<'_>) -> Result<(), ServiceError> {
    for (field, value) in [
        ("authorization", request.authorization),
        ("http_method", request.request.method),
        ("path", request.request.path),
        ("body_sha256", request.request.body_sha256),
    ] {
        if value.is_empty() {
            return Err(ServiceError::invalid(field, "is required"));
        }
    }
    let digest = request.request.body_sha256;
    if digest.len() != 64
        || !digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(ServiceError::invalid(
            "body_sha256",
            "must be the SHA-256 of the body as 64 lowercase hex characters",
        ));
    }
    Ok(())
}

/// The verdict on an HMAC-signed request.
#[derive(Debug, Clone)]
pub enum HmacJudgement {
    /// The credential matched; `refusal` says why it may still not be used.
    Matched {
        /// The credential, the version that matched and its expiry.
        matched: Box<ClientMatch>,
        /// None when the request may go through (subject to the API-set question).
        refusal: Option<HmacRefusal>,
        /// The parsed header, for claiming its nonce.
        header: AuthorizationHeader,
    },
    /// Malformed header or request, unknown client ID, or a signature no stored secret
    /// made: never told apart. Carries the credential when the client ID exists, for the
    /// audit of failures.
    Invalid(Option<Arc<crate::index::CredentialFacts>>),
}

/// Why a correctly signed request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacRefusal {
    /// The credential's state or expiry, or the matched version's expiry.
    Client(ClientRefusal),
    /// The timestamp is more than [`HMAC_WINDOW`] from the server clock.
    StaleTimestamp,
}

/// Judges the signature of a request: finds the credential the header names in the index,
/// opens every stored secret version and checks the signature against each (constant-time,
/// no early exit), then judges the matched version ([`judgement::judge_client`]: a version
/// renewed away is EXPIRED once its grace period is over, as for Basic) and the timestamp's
/// freshness. The nonce is not claimed here: see [`claim_nonce`].
pub async fn judge_hmac(
    index: &VerificationIndex,
    master_keys: &MasterKeys,
    request: &HmacRequest<'_>,
    now: DateTime<Utc>,
) -> Result<HmacJudgement, ServiceError> {
    let Ok(header) = AuthorizationHeader::parse(request.authorization) else {
        return Ok(HmacJudgement::Invalid(None));
    };
    // A request that cannot be put in canonical form cannot have been signed.
    if signing::canonical_request(
        &header.client_id,
        header.timestamp,
        &header.nonce,
        &request.request,
    )
    .is_err()
    {
        return Ok(HmacJudgement::Invalid(None));
    }
    let Some(credential) = index.credential_by_client_id(&header.client_id).await? else {
        return Ok(HmacJudgement::Invalid(None));
    };
    let mut found: Option<(i32, Option<DateTime<Utc>>)> = None;
    for version in &credential.versions {
        let (
            Material::Sealed {
                ciphertext,
                master_key_id,
            },
            Some(key_id),
        ) = (&version.material, &version.key_id)
        else {
            continue;
        };
        let key: Key = master_keys
            .open(&credential.id, &id_text(key_id), ciphertext, master_key_id)
            .map_err(|err| ServiceError::Internal(Box::new(err)))?;
        let matches = signing::verify(&key, &header, &request.request).map_err(signing_bug)?;
        if matches && found.is_none() {
            found = Some((version.version, version.expire_time));
        }
    }
    let Some((version, version_expire_time)) = found else {
        return Ok(HmacJudgement::Invalid(Some(credential)));
    };
    let matched = ClientMatch {
        credential,
        version,
        version_expire_time,
    };
    let refusal =
        match judgement::judge_client(matched.credential.state, matched.expire_time(), now) {
            Err(refusal) => Some(HmacRefusal::Client(refusal)),
            Ok(()) if !judgement::hmac_timestamp_fresh(header.timestamp, now) => {
                Some(HmacRefusal::StaleTimestamp)
            }
            Ok(()) => None,
        };
    Ok(HmacJudgement::Matched {
        matched: Box::new(matched),
        refusal,
        header,
    })
}

/// Claims the nonce of an accepted request for as long as its timestamp is fresh: `false`
/// when the nonce was already used by this credential within the window (a replay). Of
/// many concurrent requests with one nonce exactly one claims it.
pub async fn claim_nonce(
    store: &Store,
    credential_id: &str,
    header: &AuthorizationHeader,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let signed_at = DateTime::from_timestamp(header.timestamp, 0).unwrap_or(now);
    let until = signed_at.max(now) + HMAC_WINDOW;
    Ok(store
        .claim_hmac_nonce(credential_id, &header.nonce, until, now)
        .await?)
}

fn signing_bug(err: SigningError) -> ServiceError {
    // The header and request were checked by `canonical_request` already.
    ServiceError::Internal(Box::new(err))
}
