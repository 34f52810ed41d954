//! [`AppState`]: what every use case works with, built once by
//! [`crate::startup`] and shared by the gRPC services.

use std::sync::Arc;

use keyward_store::Store;

use crate::audit::FailureCounter;
use crate::auth::{Authenticator, SecretHasher};
use crate::clock::SharedClock;
use crate::index::{ChangeFeed, VerificationIndex};
use crate::sealing::MasterKeys;
use crate::usage::UsageRecorder;

/// The application: the store, the in-memory index and the services around them.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The persistence layer.
    pub store: Store,
    /// argon2id on the bounded blocking pool.
    pub hasher: SecretHasher,
    /// The time decisions are made by.
    pub clock: SharedClock,
    /// Seals and opens HMAC client secrets.
    pub master_keys: Arc<MasterKeys>,
    /// Failed verifications, counted until the next flush to the audit log.
    pub failures: FailureCounter,
    /// Resolves callers and judges presented credentials: the auth layer and the
    /// verification RPCs share it.
    pub authenticator: Authenticator,
    /// What verifications are judged from, in memory.
    pub index: Arc<VerificationIndex>,
    /// Keeps the index fresh from the change log.
    pub feed: Arc<ChangeFeed>,
    /// Last-used times, coalesced.
    pub usage: UsageRecorder,
}
