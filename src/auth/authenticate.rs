//! Turning a presented credential into a judgement, and the `authorization` metadata of a
//! request into a [`Principal`].
//!
//! Every presented secret takes the same path, whether it authenticates a caller or a
//! gateway asks a `Verify*` call about it:
//!
//! 1. **Parse** (done by the caller): a malformed or checksum-broken key never gets here.
//! 2. **Find** the facts in the verification index by the key id the secret embeds: an id
//!    nobody issued is refused by the index's id filter without a lookup, an id not held
//!    costs one indexed lookup; never argon2.
//! 3. **Prove** the secret: a digest the index remembers is compared in constant time;
//!    otherwise one attempt of the credential's budget is spent ([`Throttle`]) and argon2
//!    runs once on the bounded pool — concurrent first checks of the same secret share
//!    that one run (single flight) — and a match is remembered.
//! 4. **Judge** with [`crate::judgement`], the one set of rules, at the application
//!    clock's now; a usable credential has its use noted (last-used time, coalesced).
//!
//! Every failure of caller authentication — missing, malformed, unknown, wrong secret,
//! expired, revoked, disabled — is the same UNAUTHENTICATED; only a credential whose guess
//! budget is spent is told RESOURCE_EXHAUSTED (with a `RetryInfo`), and a usable credential
//! without the RPC's API set PERMISSION_DENIED.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use keyward_core::ACT_AS_METADATA;
use keyward_core::key::{Key, KeyKind};
use keyward_store::{CredentialScheme, Store, StoreError, UserState};
use tokio::sync::OnceCell;

use super::hashing::SecretHasher;
use super::memo::{Basis, Memo, Question, token_digest};
use super::policy::{Authority, BuiltinApiSet, RpcPolicy, Rule};
use super::principal::{Principal, PrincipalKind};
use super::throttle::{Budget, Throttle};
use crate::clock::SharedClock;
use crate::error::ServiceError;
use crate::index::facts::entitlements_of;
use crate::index::{ApiKeyFacts, CredentialFacts, FactKey, Material, ProvenKey, VerificationIndex};
use crate::judgement::{
    self, ClientRefusal, KeyFacts, KeyRefusal, Scope, client_expire_time, may_hold_keys,
    usable_api_sets,
};
use crate::usage::{UsageRecorder, UsageTarget};

/// The longest `authorization` value looked at; longer ones are refused before any
/// decoding.
const MAX_AUTHORIZATION_LEN: usize = 1024;

/// A client credential whose secret (or signature) matched, and which version matched.
#[derive(Debug, Clone)]
pub struct ClientMatch {
    /// The credential.
    pub credential: Arc<CredentialFacts>,
    /// The secret version that matched.
    pub version: i32,
    /// When that version stops verifying (set during a renewal grace period).
    pub version_expire_time: Option<DateTime<Utc>>,
}

impl ClientMatch {
    /// When the match stops being valid: the earlier of the credential's and the version's
    /// expiry.
    pub fn expire_time(&self) -> Option<DateTime<Utc>> {
        client_expire_time(self.credential.expire_time, self.version_expire_time)
    }
}

/// The verdict on a presented client secret.
#[derive(Debug, Clone)]
pub enum ClientJudgement {
    /// It may be used.
    Valid(ClientMatch),
    /// The secret did not match (or there was nothing to match): always
    /// [`ClientRefusal::Invalid`] to the outside. Carries the credential when the secret's
    /// key id is one of its versions and the Client ID is its own, so that the failure can
    /// be audited against its account.
    Refused(Option<Arc<CredentialFacts>>),
    /// The secret was not checked: the credential's budget of unproven secrets is spent.
    Throttled {
        /// The credential.
        credential: Arc<CredentialFacts>,
        /// When an attempt is available again.
        retry_after: Duration,
    },
    /// The secret was right but the credential may not be used.
    RefusedMatched(ClientRefusal, ClientMatch),
}

/// What an API key's judgement knew about it.
#[derive(Debug, Clone)]
pub struct KnownKey {
    /// The key.
    pub key: Arc<ApiKeyFacts>,
    /// Whether its owner still exists and is active, may hold keys, is an administrator,
    /// and their authorities.
    pub owner: Owner,
    /// Whether the key's account is the operator account.
    pub operator_account: bool,
    /// The API sets the key may use now: those it holds that its account is entitled to,
    /// sorted.
    pub usable_api_set_ids: Vec<String>,
    /// The resource names a decision about the key shows, made once (by the edge).
    names: std::sync::OnceLock<KeyNames>,
}

/// The resource names a decision about an API key shows.
#[derive(Debug, Clone)]
pub struct KeyNames {
    /// The key's resource name.
    pub principal: String,
    /// Its account's.
    pub account: String,
    /// Its owner's.
    pub user: String,
    /// Its API sets'.
    pub api_sets: Vec<String>,
}

impl KnownKey {
    /// The names a decision shows, made by `make` the first time: a remembered judgement
    /// formats them once, not on every answer.
    pub fn names(&self, make: impl FnOnce(&KnownKey) -> KeyNames) -> &KeyNames {
        self.names.get_or_init(|| make(self))
    }
}

/// What the judgement of a key knew about its owner.
#[derive(Debug, Clone, Default)]
pub struct Owner {
    /// The owner's state; `None` when the owner no longer exists.
    pub state: Option<UserState>,
    /// The owner holds the built-in administrator role.
    pub administrator: bool,
    /// The authorities of the owner's roles.
    pub authorities: BTreeSet<String>,
}

/// What [`Authenticator::judge_api_key`] found out about a presented key.
#[derive(Debug, Clone)]
pub enum KeyJudgement {
    /// No key has that ID, or the secret does not match: deliberately one case to the
    /// outside, so that nobody learns which IDs exist. Carries the key when its id exists
    /// (a wrong secret), for the audit of failures.
    Invalid(Option<Arc<ApiKeyFacts>>),
    /// The secret was not checked: the key's budget of unproven secrets is spent.
    Throttled {
        /// The key.
        key: Arc<ApiKeyFacts>,
        /// When an attempt is available again.
        retry_after: Duration,
    },
    /// The key exists and its secret matched.
    Known {
        /// The key, its owner and account, as the index holds them now.
        known: Arc<KnownKey>,
        /// Whether it may be used.
        verdict: Result<(), KeyRefusal>,
    },
}

/// What a secret reported as leaked proved to be ([`Authenticator::prove_leaked`]).
#[derive(Debug, Clone)]
pub enum LeakProof {
    /// No secret Keyward holds: no such key, or a secret that does not match (one case,
    /// so that reports cannot tell which ids exist).
    Unknown,
    /// Not checked: the credential's budget of unproven secrets is spent.
    RetryLater(Duration),
    /// An API key's secret.
    ApiKey {
        /// The key.
        key: Arc<ApiKeyFacts>,
        /// Whether it verified just before (for any API set).
        valid: bool,
    },
    /// A client credential's secret (one of its live versions).
    ClientSecret {
        /// The credential.
        credential: Arc<CredentialFacts>,
        /// Whether it verified just before.
        valid: bool,
    },
    /// An enrollment token.
    EnrollmentToken {
        /// The token as stored.
        token: Box<keyward_store::EnrollmentToken>,
        /// Whether it could have been redeemed just before.
        valid: bool,
    },
}

/// The outcome of proving a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    Proven,
    Wrong,
    Throttled(Duration),
}

/// What one argon2 run found, shared by everyone who waited for it.
#[derive(Debug, Clone)]
enum Outcome {
    Match,
    Mismatch,
    Throttled(Duration),
    Shed(Option<Duration>),
    Failed(Arc<str>),
}

type FlightKey = (ProvenKey, [u8; 32]);

/// The argon2 runs in flight, by secret and presented digest: concurrent first checks of
/// one secret wait for one run.
#[derive(Debug, Default)]
struct Flights {
    running: Mutex<HashMap<FlightKey, Arc<OnceCell<Outcome>>>>,
}

impl Flights {
    fn join(&self, key: FlightKey) -> Arc<OnceCell<Outcome>> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running.entry(key).or_default().clone()
    }

    fn leave(&self, key: &FlightKey, flight: &Arc<OnceCell<Outcome>>) {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if running
            .get(key)
            .is_some_and(|current| Arc::ptr_eq(current, flight))
        {
            running.remove(key);
        }
    }
}

/// PERMISSION_DENIED for a usable credential that does not hold the API set of the RPC it
/// calls.
fn api_set_not_allowed(api_set: &str) -> ServiceError {
    ServiceError::PermissionDenied {
        reason: "API_SET_NOT_ALLOWED",
        message: format!(
            "the credential does not hold the API set {api_set} this method belongs to"
        ),
    }
}

/// RESOURCE_EXHAUSTED for a caller whose credential's guess budget is spent.
fn too_many_attempts(retry_after: Duration) -> ServiceError {
    ServiceError::ResourceExhausted {
        reason: "TOO_MANY_ATTEMPTS",
        message: "too many unproven secrets were presented for this credential; retry later"
            .to_owned(),
        retry_after: Some(retry_after),
    }
}

/// What the caller presented: a bearer token (not parsed yet: the memo is asked first),
/// or a Basic client ID and parsed secret.
enum Presented<'a> {
    Bearer(&'a str),
    Basic { client_id: String, secret: Key },
}

/// Parses the value of a `Basic` authorization header into client ID and secret; `None`
/// for anything malformed.
pub fn parse_basic(value: &str) -> Option<(String, Key)> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return None;
    }
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (client_id, secret) = decoded.split_once(':')?;
    let secret = Key::parse_kind(secret, KeyKind::ClientSecret).ok()?;
    Some((client_id.to_owned(), secret))
}

/// Parses an `authorization` value; any malformation is UNAUTHENTICATED (a bearer token's
/// own format is checked when it is judged).
fn parse_authorization(value: &str) -> Result<Presented<'_>, ServiceError> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(ServiceError::Unauthenticated);
    }
    let (scheme, rest) = value
        .trim()
        .split_once(' ')
        .ok_or(ServiceError::Unauthenticated)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Presented::Bearer(rest))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let (client_id, secret) = parse_basic(value).ok_or(ServiceError::Unauthenticated)?;
        Ok(Presented::Basic { client_id, secret })
    } else {
        Err(ServiceError::Unauthenticated)
    }
}

/// Resolves principals and judges presented credentials. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    index: Arc<VerificationIndex>,
    /// Enrollment tokens are read from the store: they are rare and never verified by a
    /// gateway, so the index does not hold them.
    store: Store,
    hasher: SecretHasher,
    throttle: Arc<Throttle>,
    flights: Arc<Flights>,
    clock: SharedClock,
    usage: UsageRecorder,
    /// Principals of bearer tokens, by key id and API set.
    callers: Arc<Memo<Arc<Principal>>>,
    /// Judgements of API keys gateways ask about, by key id and question.
    keys: Arc<Memo<KeyJudgement>>,
    /// Digests of tokens that look like keys (kind and id) but do not parse.
    malformed: Arc<quick_cache::sync::Cache<[u8; 32], ()>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over the index; argon2 runs on `hasher` within the budgets of
    /// `throttle`; successful uses are noted in `usage`.
    pub fn new(
        index: Arc<VerificationIndex>,
        store: Store,
        hasher: SecretHasher,
        throttle: Throttle,
        clock: SharedClock,
        usage: UsageRecorder,
    ) -> Self {
        let capacity = index.config().capacity;
        Self {
            index,
            store,
            hasher,
            throttle: Arc::new(throttle),
            flights: Arc::default(),
            clock,
            usage,
            callers: Arc::new(Memo::new(capacity / 16)),
            // A key is one fact and one proven secret: an index sized for N keys remembers
            // the answers about N/2 of them (more than one question per key shares the room).
            keys: Arc::new(Memo::new(capacity / 2)),
            malformed: Arc::new(quick_cache::sync::Cache::new(10_000)),
        }
    }

    /// The principal of an `authorization` value (None when absent), calling the RPC of
    /// `policy`. A usable credential without the RPC's API set is PERMISSION_DENIED
    /// (`API_SET_NOT_ALLOWED`), and so is a usable enrollment token calling anything but
    /// the [`Rule::Enrollee`] rows (`ENROLLMENT_TOKEN_ONLY`); a credential whose guess
    /// budget is spent RESOURCE_EXHAUSTED; every other failure the same UNAUTHENTICATED.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        policy: &RpcPolicy,
    ) -> Result<Arc<Principal>, ServiceError> {
        let value = authorization.ok_or(ServiceError::Unauthenticated)?;
        let api_set = policy.api_set.id();
        match parse_authorization(value)? {
            Presented::Bearer(token) if token.starts_with(KeyKind::EnrollmentToken.prefix()) => {
                let principal = self.enrollment_principal(token).await?;
                if !matches!(policy.rule, Rule::Enrollee(_)) {
                    return Err(ServiceError::PermissionDenied {
                        reason: "ENROLLMENT_TOKEN_ONLY",
                        message: "an enrollment token can only be redeemed for its user's \
                                  first API key (ApiKeyService/RedeemEnrollmentToken)"
                            .to_owned(),
                    });
                }
                Ok(Arc::new(principal))
            }
            Presented::Bearer(token) => self.bearer(token, api_set).await,
            Presented::Basic { client_id, secret } => self
                .client_principal(&client_id, &secret, api_set)
                .await
                .map(Arc::new),
        }
    }

    /// The principal of a call that `front`, the authenticated credential of a front end,
    /// makes for one of its signed-in users, named by the `keyward-act-as` metadata entry
    /// (`user_name`, `accounts/{account}/users/{user}`), as Kubernetes user impersonation
    /// does: the call runs as that user (their account, roles and authorities), within the
    /// API sets of `front` that the user's account may use, `keyward.delegation` itself
    /// excepted (a delegated call cannot delegate again).
    ///
    /// `front` must hold `keyward.delegation` (else PERMISSION_DENIED,
    /// `API_SET_NOT_ALLOWED`). A credential of the operator account may act for users of
    /// any account, any other only for users of its own. A user of an account the front
    /// end may not act in, a disabled user and a user that does not exist all get the same
    /// PERMISSION_DENIED, so the answer says nothing about who exists.
    pub async fn act_as(
        &self,
        front: &Principal,
        user_name: &str,
    ) -> Result<Arc<Principal>, ServiceError> {
        let delegation = BuiltinApiSet::Delegation.id();
        // An enrollment token offers API sets; it holds none, so it never delegates.
        if front.is_enrollment() || !front.api_sets.contains(delegation) {
            return Err(ServiceError::PermissionDenied {
                reason: "API_SET_NOT_ALLOWED",
                message: format!(
                    "acting for a user (`{ACT_AS_METADATA}`) needs a credential holding the API set {delegation}"
                ),
            });
        }
        let (account_id, user_id) = crate::validate::names::user(ACT_AS_METADATA, user_name)?;
        let denied = || ServiceError::PermissionDenied {
            reason: "PERMISSION_DENIED",
            message: format!("the calling credential may not act as {user_name}"),
        };
        if !front.operator_account && front.account_id != account_id {
            return Err(denied());
        }
        let user = FactKey::User(account_id.as_str().into(), user_id.as_str().into());
        let owner = self.owner(&user).await?;
        if owner.state != Some(UserState::Active) {
            return Err(denied());
        }
        let account = self
            .index
            .account(&FactKey::Account(account_id.as_str().into()))
            .await?;
        let entitlements = entitlements_of(account.as_deref());
        let api_sets = front
            .api_sets
            .iter()
            .filter(|id| *id != delegation && entitlements.cover(id))
            .cloned()
            .collect();
        Ok(Arc::new(Principal {
            account_id,
            operator_account: account.is_some_and(|account| account.operator),
            api_sets,
            kind: PrincipalKind::User {
                user_id,
                key_id: None,
                administrator: owner.administrator,
                authorities: Authority::set_from_stored(&owner.authorities),
            },
            delegate: Some(front.name()),
        }))
    }

    /// The principal of a bearer token calling an RPC of `api_set`: remembered while it
    /// holds (see [`Memo`]), judged otherwise.
    async fn bearer(&self, token: &str, api_set: &str) -> Result<Arc<Principal>, ServiceError> {
        let Ok((KeyKind::ApiKey, id)) = Key::peek_id(token) else {
            return Err(ServiceError::Unauthenticated);
        };
        let digest = token_digest(token);
        let question = Question::api_set(api_set);
        let now = self.clock.now();
        let applied = self.index.applied();
        if self.index.trusted()
            && let Some(hit) = self.callers.get(&id, &digest, question, applied, now)
        {
            if let Some(usage) = hit.usage_to_note(now) {
                self.usage.note(usage.clone(), now);
            }
            return Ok(hit.value.clone());
        }
        let key =
            Key::parse_kind(token, KeyKind::ApiKey).map_err(|_| ServiceError::Unauthenticated)?;
        let (principal, valid_until) = self.api_key_principal(&key, api_set).await?;
        let principal = Arc::new(principal);
        let usage = UsageTarget::ApiKey(key.id().as_str().into());
        let basis = Basis {
            applied,
            valid_until,
            noted_at: now.timestamp(),
        };
        self.callers
            .insert(&id, digest, question, basis, principal.clone(), Some(usage));
        Ok(principal)
    }

    /// Judges an API key token a gateway presents, asked `question` (resolved to `scope`):
    /// remembered while the outcome holds (see [`Memo`]), else parsed and judged by
    /// [`judge_api_key`](Self::judge_api_key). A malformed token is INVALID before any
    /// lookup.
    pub async fn judge_api_key_token(
        &self,
        token: &str,
        question: Question<'_>,
        scope: Scope<'_>,
    ) -> Result<KeyJudgement, ServiceError> {
        let Ok((KeyKind::ApiKey, id)) = Key::peek_id(token) else {
            return Ok(KeyJudgement::Invalid(None));
        };
        // An id nobody issued: refused before anything else is done.
        if self.index.no_api_key(&id) {
            return Ok(KeyJudgement::Invalid(None));
        }
        let digest = token_digest(token);
        let now = self.clock.now();
        let applied = self.index.applied();
        if self.index.trusted()
            && let Some(hit) = self.keys.get(&id, &digest, question, applied, now)
        {
            if let Some(usage) = hit.usage_to_note(now) {
                self.usage.note(usage.clone(), now);
            }
            return Ok(hit.value.clone());
        }
        // A token that failed to parse never parses: remembered by its digest, so that a
        // client repeating a mistyped key costs what a remembered valid one costs.
        if self.malformed.get(&digest).is_some() {
            return Ok(KeyJudgement::Invalid(None));
        }
        let Ok(key) = Key::parse_kind(token, KeyKind::ApiKey) else {
            self.malformed.insert(digest, ());
            return Ok(KeyJudgement::Invalid(None));
        };
        let judgement = self.judge_api_key(&key, scope).await?;
        if let KeyJudgement::Known { known, verdict } = &judgement {
            let valid_until = match verdict {
                // Expired for good: no later time makes it hold less.
                Err(KeyRefusal::Expired) => None,
                _ => known.key.expire_time,
            };
            let usage = verdict
                .is_ok()
                .then(|| UsageTarget::ApiKey(known.key.id.clone()));
            let basis = Basis {
                applied,
                valid_until,
                noted_at: if verdict.is_ok() { now.timestamp() } else { 0 },
            };
            self.keys
                .insert(&id, digest, question, basis, judgement.clone(), usage);
        }
        Ok(judgement)
    }

    /// Judges a presented API key in `scope`: the one path shared by authentication and
    /// `VerifyApiKey`. A key found usable has its use noted (last-used time, coalesced).
    pub async fn judge_api_key(
        &self,
        key: &Key,
        scope: Scope<'_>,
    ) -> Result<KeyJudgement, ServiceError> {
        let Some(facts) = self.index.api_key(key.id()).await? else {
            return Ok(KeyJudgement::Invalid(None));
        };
        let proof = self
            .prove(
                ProvenKey::new(KeyKind::ApiKey, key.id()),
                key,
                &facts.secret_hash,
                Budget::ApiKey(key.id().to_bytes()),
            )
            .await?;
        match proof {
            Proof::Proven => {}
            Proof::Wrong => return Ok(KeyJudgement::Invalid(Some(facts))),
            Proof::Throttled(retry_after) => {
                return Ok(KeyJudgement::Throttled {
                    key: facts,
                    retry_after,
                });
            }
        }
        let owner = self.owner(&facts.owner).await?;
        let account = self.index.account(&facts.account).await?;
        let entitlements = entitlements_of(account.as_deref());
        let now = self.clock.now();
        let verdict = judgement::judge_api_key(
            &KeyFacts {
                state: facts.state,
                expire_time: facts.expire_time,
                owner: owner.state,
                owner_may_hold_keys: may_hold_keys(
                    owner.administrator,
                    owner.authorities.iter().map(String::as_str),
                ),
                api_set_ids: &facts.api_set_ids,
                entitlements,
            },
            now,
            scope,
        );
        let usable_api_set_ids = usable_api_sets(&facts.api_set_ids, entitlements)
            .cloned()
            .collect();
        let operator_account = account.is_some_and(|account| account.operator);
        if verdict.is_ok() {
            self.usage.note(UsageTarget::ApiKey(facts.id.clone()), now);
        }
        Ok(KeyJudgement::Known {
            known: Arc::new(KnownKey {
                key: facts,
                owner,
                operator_account,
                usable_api_set_ids,
                names: std::sync::OnceLock::new(),
            }),
            verdict,
        })
    }

    /// The principal of a presented enrollment token: a user's one-time token, usable while
    /// neither redeemed nor revoked nor expired and while its user is active, and never
    /// remembered (it is presented once). Read from the store, proven like any secret
    /// (argon2 within the token's budget); every failure the same UNAUTHENTICATED. An id
    /// nobody issued costs one indexed read and no argon2.
    async fn enrollment_principal(&self, token: &str) -> Result<Principal, ServiceError> {
        let key = Key::parse_kind(token, KeyKind::EnrollmentToken)
            .map_err(|_| ServiceError::Unauthenticated)?;
        let stored = match self.store.get_enrollment_token(key.id().as_str()).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => return Err(ServiceError::Unauthenticated),
            Err(err) => return Err(err.into()),
        };
        let proof = self
            .prove(
                ProvenKey::new(KeyKind::EnrollmentToken, key.id()),
                &key,
                &Arc::from(stored.secret_hash.as_str()),
                Budget::EnrollmentToken(key.id().to_bytes()),
            )
            .await?;
        match proof {
            Proof::Proven => {}
            Proof::Wrong => return Err(ServiceError::Unauthenticated),
            Proof::Throttled(retry_after) => return Err(too_many_attempts(retry_after)),
        }
        if stored.redeem_time.is_some()
            || stored.revoke_time.is_some()
            || stored.expire_time <= self.clock.now()
        {
            return Err(ServiceError::Unauthenticated);
        }
        let user = FactKey::User(
            stored.account_id.as_str().into(),
            stored.user_id.as_str().into(),
        );
        let owner = self.owner(&user).await?;
        if owner.state != Some(UserState::Active) {
            return Err(ServiceError::Unauthenticated);
        }
        let account = self
            .index
            .account(&FactKey::Account(stored.account_id.as_str().into()))
            .await?;
        Ok(Principal {
            operator_account: account.is_some_and(|account| account.operator),
            api_sets: stored.api_set_ids.into_iter().collect(),
            kind: PrincipalKind::Enrollment {
                user_id: stored.user_id,
                token_id: stored.id,
                administrator: owner.administrator,
                authorities: Authority::set_from_stored(&owner.authorities),
            },
            account_id: stored.account_id,
            delegate: None,
        })
    }

    /// A user (a key's owner, a user a front end acts for, a token's user) as the index
    /// holds them: state (`None` when there is no such user), whether they are an
    /// administrator, and their roles' authorities.
    pub async fn owner(&self, user: &FactKey) -> Result<Owner, ServiceError> {
        let Some(user) = self.index.user(user).await? else {
            return Ok(Owner::default());
        };
        let mut owner = Owner {
            state: Some(user.state),
            ..Owner::default()
        };
        for role in &user.roles {
            if let Some(role) = self.index.role(role).await? {
                owner.administrator |= role.builtin;
                owner.authorities.extend(role.authorities.iter().cloned());
            }
        }
        Ok(owner)
    }

    /// The principal of a key calling an RPC of `api_set`, and until when it holds (the key's
    /// expiry).
    async fn api_key_principal(
        &self,
        key: &Key,
        api_set: &str,
    ) -> Result<(Principal, Option<DateTime<Utc>>), ServiceError> {
        let known = match self.judge_api_key(key, Scope::ApiSet(api_set)).await? {
            KeyJudgement::Known {
                known,
                verdict: Ok(()),
            } => known,
            KeyJudgement::Known {
                verdict: Err(KeyRefusal::ApiSetNotAllowed),
                ..
            } => return Err(api_set_not_allowed(api_set)),
            KeyJudgement::Throttled { retry_after, .. } => {
                return Err(too_many_attempts(retry_after));
            }
            KeyJudgement::Known { .. } | KeyJudgement::Invalid(_) => {
                return Err(ServiceError::Unauthenticated);
            }
        };
        let KnownKey {
            key,
            owner,
            operator_account,
            usable_api_set_ids,
            ..
        } = &*known;
        let principal = Principal {
            account_id: key.account_id.to_string(),
            operator_account: *operator_account,
            api_sets: usable_api_set_ids.iter().cloned().collect(),
            kind: PrincipalKind::User {
                user_id: key.user_id.to_string(),
                key_id: Some(key.id.to_string()),
                administrator: owner.administrator,
                authorities: Authority::set_from_stored(&owner.authorities),
            },
            delegate: None,
        };
        Ok((principal, key.expire_time))
    }

    async fn client_principal(
        &self,
        client_id: &str,
        secret: &Key,
        api_set: &str,
    ) -> Result<Principal, ServiceError> {
        let matched = match self.judge_client_secret(client_id, secret).await? {
            ClientJudgement::Valid(matched) => matched,
            ClientJudgement::Throttled { retry_after, .. } => {
                return Err(too_many_attempts(retry_after));
            }
            ClientJudgement::Refused(_) | ClientJudgement::RefusedMatched(..) => {
                return Err(ServiceError::Unauthenticated);
            }
        };
        let credential = matched.credential;
        let account = self.index.account(&credential.account).await?;
        let api_sets: BTreeSet<String> =
            usable_api_sets(&credential.api_set_ids, entitlements_of(account.as_deref()))
                .cloned()
                .collect();
        if !Scope::ApiSet(api_set).permits(&api_sets) {
            return Err(api_set_not_allowed(api_set));
        }
        Ok(Principal {
            account_id: credential.account_id.to_string(),
            operator_account: account.is_some_and(|account| account.operator),
            api_sets,
            kind: PrincipalKind::Client {
                credential_id: credential.id.to_string(),
            },
            delegate: None,
        })
    }

    /// The one judgement of a client ID and Basic secret, for authentication and
    /// `VerifyClientSecret` alike.
    ///
    /// The secret's embedded key id finds its version before anything else (so the cost of
    /// a refusal says nothing about whether the Client ID exists); the Client ID must be
    /// that version's credential's, and the credential a Basic one. Only a caller holding
    /// the right secret learns more than INVALID: that the version or credential expired,
    /// or that the credential is disabled. A usable secret has its use noted (last-used
    /// time of its version, coalesced).
    pub async fn judge_client_secret(
        &self,
        client_id: &str,
        secret: &Key,
    ) -> Result<ClientJudgement, ServiceError> {
        let Some(credential) = self.index.credential_by_secret_key(secret.id()).await? else {
            return Ok(ClientJudgement::Refused(None));
        };
        if &*credential.client_id != client_id {
            return Ok(ClientJudgement::Refused(None));
        }
        let version = credential.version_with_key(&secret.id().to_bytes());
        let (Some(version), CredentialScheme::Basic) = (version, credential.scheme) else {
            return Ok(ClientJudgement::Refused(Some(credential)));
        };
        let Material::Hash(phc) = &version.material else {
            return Ok(ClientJudgement::Refused(Some(credential)));
        };
        let proof = self
            .prove(
                ProvenKey::new(KeyKind::ClientSecret, secret.id()),
                secret,
                phc,
                Budget::Credential(credential.id.clone()),
            )
            .await?;
        match proof {
            Proof::Proven => {}
            Proof::Wrong => return Ok(ClientJudgement::Refused(Some(credential))),
            Proof::Throttled(retry_after) => {
                return Ok(ClientJudgement::Throttled {
                    credential,
                    retry_after,
                });
            }
        }
        let matched = ClientMatch {
            version: version.version,
            version_expire_time: version.expire_time,
            credential: credential.clone(),
        };
        let now = self.clock.now();
        match judgement::judge_client(credential.state, matched.expire_time(), now) {
            Ok(()) => {
                let target = UsageTarget::CredentialSecret {
                    credential_id: credential.id.clone(),
                    version: matched.version,
                };
                self.usage.note(target, now);
                Ok(ClientJudgement::Valid(matched))
            }
            Err(refusal) => Ok(ClientJudgement::RefusedMatched(refusal, matched)),
        }
    }

    /// Whether `key` is a secret Keyward holds, whatever the state of its credential: the
    /// proof of a leak report. The same path as every verification (the index finds the
    /// facts by the key id, the secret is proven by a remembered digest or by argon2 within
    /// the credential's budget), so reports cannot be used to guess; an HMAC secret, kept
    /// sealed, is compared with the unsealed one in constant time.
    pub async fn prove_leaked(
        &self,
        key: &Key,
        master_keys: &crate::sealing::MasterKeys,
    ) -> Result<LeakProof, ServiceError> {
        let now = self.clock.now();
        match key.kind() {
            KeyKind::ApiKey => Ok(match self.judge_api_key(key, Scope::Validity).await? {
                KeyJudgement::Invalid(_) => LeakProof::Unknown,
                KeyJudgement::Throttled { retry_after, .. } => LeakProof::RetryLater(retry_after),
                KeyJudgement::Known { known, verdict } => LeakProof::ApiKey {
                    key: known.key.clone(),
                    valid: verdict.is_ok(),
                },
            }),
            KeyKind::ClientSecret => {
                let Some(credential) = self.index.credential_by_secret_key(key.id()).await? else {
                    return Ok(LeakProof::Unknown);
                };
                let Some(version) = credential.version_with_key(&key.id().to_bytes()) else {
                    return Ok(LeakProof::Unknown);
                };
                let proof = match &version.material {
                    Material::Hash(phc) => {
                        self.prove(
                            ProvenKey::new(KeyKind::ClientSecret, key.id()),
                            key,
                            phc,
                            Budget::Credential(credential.id.clone()),
                        )
                        .await?
                    }
                    Material::Sealed {
                        ciphertext,
                        master_key_id,
                    } => {
                        let stored = master_keys
                            .open(&credential.id, key.id().as_str(), ciphertext, master_key_id)
                            .map_err(|err| ServiceError::Internal(Box::new(err)))?;
                        if stored.secret_digest().ct_eq(&key.secret_digest()) {
                            Proof::Proven
                        } else {
                            Proof::Wrong
                        }
                    }
                };
                Ok(match proof {
                    Proof::Wrong => LeakProof::Unknown,
                    Proof::Throttled(retry_after) => LeakProof::RetryLater(retry_after),
                    Proof::Proven => {
                        let expire_time =
                            client_expire_time(credential.expire_time, version.expire_time);
                        let valid =
                            judgement::judge_client(credential.state, expire_time, now).is_ok();
                        LeakProof::ClientSecret { credential, valid }
                    }
                })
            }
            KeyKind::EnrollmentToken => {
                let token = match self.store.get_enrollment_token(key.id().as_str()).await {
                    Ok(token) => token,
                    Err(StoreError::NotFound { .. }) => return Ok(LeakProof::Unknown),
                    Err(err) => return Err(err.into()),
                };
                let proof = self
                    .prove(
                        ProvenKey::new(KeyKind::EnrollmentToken, key.id()),
                        key,
                        &Arc::from(token.secret_hash.as_str()),
                        Budget::EnrollmentToken(key.id().to_bytes()),
                    )
                    .await?;
                Ok(match proof {
                    Proof::Wrong => LeakProof::Unknown,
                    Proof::Throttled(retry_after) => LeakProof::RetryLater(retry_after),
                    Proof::Proven => LeakProof::EnrollmentToken {
                        valid: token.redeem_time.is_none()
                            && token.revoke_time.is_none()
                            && token.expire_time > now,
                        token: Box::new(token),
                    },
                })
            }
        }
    }

    /// Whether `key`'s secret is the one whose argon2id hash is `phc`: by the remembered
    /// digest when it was proven before; else, within `budget`, by one argon2 run shared
    /// with every concurrent check of the same secret, remembered when it matches.
    async fn prove(
        &self,
        proven: ProvenKey,
        key: &Key,
        phc: &Arc<str>,
        budget: Budget,
    ) -> Result<Proof, ServiceError> {
        let digest = key.secret_digest();
        if self.index.is_proven(&proven, &digest) {
            return Ok(Proof::Proven);
        }
        // A spent budget refuses at once, without joining or starting a run.
        if let Some(retry_after) = self.throttle.spent(&budget) {
            return Ok(Proof::Throttled(retry_after));
        }
        let flight_key = (proven, *digest.as_bytes());
        let flight = self.flights.join(flight_key);
        let outcome = flight
            .get_or_init(|| async {
                if let Err(retry_after) = self.throttle.spend(&budget) {
                    return Outcome::Throttled(retry_after);
                }
                match self.hasher.verify_key(key, phc.clone()).await {
                    Ok(true) => {
                        self.index.remember_proven(proven, digest.clone());
                        Outcome::Match
                    }
                    Ok(false) => Outcome::Mismatch,
                    Err(ServiceError::ResourceExhausted { retry_after, .. }) => {
                        Outcome::Shed(retry_after)
                    }
                    Err(err) => Outcome::Failed(crate::error::error_chain(&err).into()),
                }
            })
            .await
            .clone();
        self.flights.leave(&flight_key, &flight);
        match outcome {
            Outcome::Match => Ok(Proof::Proven),
            Outcome::Mismatch => Ok(Proof::Wrong),
            Outcome::Throttled(retry_after) => Ok(Proof::Throttled(retry_after)),
            Outcome::Shed(retry_after) => Err(ServiceError::ResourceExhausted {
                reason: "SECRET_CHECKS_OVERLOADED",
                message: "too many secrets are waiting to be checked; retry shortly".to_owned(),
                retry_after,
            }),
            Outcome::Failed(message) => Err(ServiceError::Internal(message.to_string().into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod basic_properties {
        use proptest::prelude::*;
        use secrecy::ExposeSecret as _;

        use super::super::{parse_authorization, parse_basic};
        use keyward_core::key::{Key, KeyKind};

        fn basic(client_id: &str, secret: &str) -> String {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
            )
        }

        proptest! {
            #[test]
            fn a_basic_header_round_trips(client_id in "[A-Za-z0-9._-]{1,60}", scheme in "[bB][aA][sS][iI][cC]") {
                let secret = Key::generate(KeyKind::ClientSecret).unwrap();
                let token = secret.to_token();
                let value = basic(&client_id, token.expose_secret()).replacen("Basic", &scheme, 1);
                let (parsed_id, parsed) = parse_basic(&value).expect("a valid Basic header");
                prop_assert_eq!(parsed_id, client_id);
                prop_assert_eq!(parsed.id(), secret.id());
                prop_assert!(parsed.secret_digest().ct_eq(&secret.secret_digest()));
            }

            #[test]
            fn a_changed_character_never_yields_the_same_credential(
                client_id in "[A-Za-z0-9._-]{1,60}",
                at in any::<prop::sample::Index>(),
                replacement in prop::sample::select(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".as_slice()
                ),
            ) {
                let secret = Key::generate(KeyKind::ClientSecret).unwrap();
                let token = secret.to_token();
                let value = basic(&client_id, token.expose_secret());
                // Change one character of the base64 part.
                let at = 6 + at.index(value.len() - 6);
                prop_assume!(value.as_bytes()[at] != replacement);
                let mut changed = value.into_bytes();
                changed[at] = replacement;
                let changed = String::from_utf8(changed).unwrap();
                if let Some((parsed_id, parsed)) = parse_basic(&changed) {
                    prop_assert!(
                        parsed_id != client_id || !parsed.secret_digest().ct_eq(&secret.secret_digest()),
                        "{} parsed as the same credential",
                        changed
                    );
                }
            }

            #[test]
            fn arbitrary_text_never_panics_the_basic_parser(text in "\\PC{0,200}") {
                let _ = parse_basic(&text);
                let _ = parse_authorization(&text);
            }
        }
    }

    #[test]
    fn malformed_authorization_values_are_all_unauthenticated() {
        let key = Key::generate(KeyKind::ApiKey).unwrap();
        let token = secrecy::ExposeSecret::expose_secret(&key.to_token()).to_owned();
        let long = "x".repeat(5000);
        let cases = [
            String::new(),
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            "Token abc".to_owned(),
            format!("Bearer {token}x"),
            format!("Bearer {long}"),
            "Basic !!!".to_owned(),
            "Basic dXNlcg==".to_owned(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("c:wrong")
            ),
        ];
        for case in cases {
            let refused = match parse_authorization(&case) {
                Err(ServiceError::Unauthenticated) => true,
                // A bearer token's format is checked when it is judged.
                Ok(Presented::Bearer(token)) => Key::parse_kind(token, KeyKind::ApiKey).is_err(),
                _ => false,
            };
            assert!(refused, "{case:.40}");
        }
        assert!(matches!(
            parse_authorization(&format!("bearer {token}")),
            Ok(Presented::Bearer(presented)) if presented == token
        ));
    }
}
