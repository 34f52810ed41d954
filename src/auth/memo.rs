//! Judgements of presented tokens, remembered while nothing they depend on has changed.
//!
//! Judging a token from the index is already free of database work, but it still parses
//! the token (base58), looks up five or six facts and builds the answer. A gateway presents
//! the same few tokens all day: the memo keeps each outcome by the token's key id and the
//! question asked, together with the SHA-256 of the whole token (compared in constant time)
//! and the number of the last change the index had applied when the outcome was computed.
//! An entry answers only while the index is trusted, has applied no change since, and the
//! credential has not reached its expiry; otherwise the token is judged again. So the memo
//! can never answer differently from the judgement itself: any change anywhere (or time
//! passing an expiry) sends every token back through it.
//!
//! Only outcomes of proven secrets are kept (valid, or refused for a reason that needs the
//! right secret): unknown ids and wrong secrets are cheap to refuse again and must keep
//! spending the guess budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::index::IdBytes;
use crate::usage::UsageTarget;

/// What a token was asked, as the memo tells questions apart: validity, an API set, or a
/// method (by its name, not the sets it resolves to: catalog changes are changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question<'a> {
    tag: u8,
    text: &'a str,
}

impl<'a> Question<'a> {
    /// Only whether the credential is valid.
    pub fn validity() -> Self {
        Self { tag: 0, text: "" }
    }

    /// May it use this API set?
    pub fn api_set(id: &'a str) -> Self {
        Self { tag: 1, text: id }
    }

    /// May it call this method?
    pub fn method(method: &'a str) -> Self {
        Self {
            tag: 2,
            text: method,
        }
    }

    /// FNV-1a of the tag and text: a cache key, confirmed against the full text on every
    /// hit, so it needs speed, not resistance to collisions.
    fn hash64(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        std::iter::once(self.tag)
            .chain(self.text.bytes())
            .fold(OFFSET, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(PRIME)
            })
    }
}

/// The SHA-256 of a presented token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MemoKey {
    id: IdBytes,
    question: u64,
}

/// One remembered outcome.
#[derive(Debug)]
pub struct Entry<T> {
    digest: [u8; 32],
    tag: u8,
    text: Box<str>,
    applied: i64,
    valid_until: Option<DateTime<Utc>>,
    /// The outcome.
    pub value: T,
    /// The use to note when the outcome is used (a usable credential).
    usage: Option<UsageTarget>,
    /// The second (Unix time) of the last use noted through this entry.
    noted: AtomicI64,
}

impl<T> Entry<T> {
    /// The use to note for a use at `now`, unless one was noted through this entry in the
    /// same second: last-used times are kept to the second, and a busy credential should not
    /// take the recorder's lock on every call.
    pub fn usage_to_note(&self, now: DateTime<Utc>) -> Option<&UsageTarget> {
        let usage = self.usage.as_ref()?;
        let second = now.timestamp();
        (self.noted.swap(second, Ordering::Relaxed) != second).then_some(usage)
    }
}

/// Remembered outcomes of one kind.
pub struct Memo<T> {
    entries: Cache<MemoKey, Arc<Entry<T>>>,
}

impl<T> std::fmt::Debug for Memo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// What an outcome was computed from, and for how long it holds.
#[derive(Debug, Clone, Copy)]
pub struct Basis {
    /// The number of the last change the index had applied before the judgement began.
    pub applied: i64,
    /// When the outcome stops holding by itself (the credential's expiry).
    pub valid_until: Option<DateTime<Utc>>,
    /// The second (Unix time) the judgement noted the credential's use in, if it did.
    pub noted_at: i64,
}

impl<T> Memo<T> {
    /// A memo of at most `capacity` outcomes.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1000)),
        }
    }

    /// The outcome remembered for the token with key id `id` and SHA-256 `digest`, asked
    /// `question`, if it still holds: computed when the index had applied exactly
    /// `applied` changes, and not expired at `now`. The caller checks that the index is
    /// trusted.
    pub fn get(
        &self,
        id: &IdBytes,
        digest: &[u8; 32],
        question: Question<'_>,
        applied: i64,
        now: DateTime<Utc>,
    ) -> Option<Arc<Entry<T>>> {
        let key = MemoKey {
            id: *id,
            question: question.hash64(),
        };
        let entry = self.entries.get(&key)?;
        let holds = entry.applied == applied
            && entry.tag == question.tag
            && *entry.text == *question.text
            && entry.valid_until.is_none_or(|until| now < until)
            && bool::from(entry.digest.ct_eq(digest));
        holds.then_some(entry)
    }

    /// Remembers the outcome for a token.
    pub fn insert(
        &self,
        id: &IdBytes,
        digest: [u8; 32],
        question: Question<'_>,
        basis: Basis,
        value: T,
        usage: Option<UsageTarget>,
    ) {
        let key = MemoKey {
            id: *id,
            question: question.hash64(),
        };
        self.entries.insert(
            key,
            Arc::new(Entry {
                digest,
                tag: question.tag,
                text: question.text.into(),
                applied: basis.applied,
                valid_until: basis.valid_until,
                value,
                usage,
                noted: AtomicI64::new(basis.noted_at),
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn an_outcome_holds_only_for_the_same_token_question_changes_and_time() {
        let memo: Memo<&'static str> = Memo::new(10);
        let id = [7; 10];
        let digest = token_digest("kw_ak_token");
        let basis = Basis {
            applied: 5,
            valid_until: Some(at(100)),
            noted_at: 0,
        };
        memo.insert(
            &id,
            digest,
            Question::api_set("billing"),
            basis,
            "valid",
            None,
        );
        let get = |digest: &[u8; 32], question, applied, now| {
            memo.get(&id, digest, question, applied, now)
                .map(|entry| entry.value)
        };
        assert_eq!(
            get(&digest, Question::api_set("billing"), 5, at(0)),
            Some("valid")
        );
        assert_eq!(
            get(
                &token_digest("kw_ak_other"),
                Question::api_set("billing"),
                5,
                at(0)
            ),
            None
        );
        assert_eq!(get(&digest, Question::api_set("reports"), 5, at(0)), None);
        assert_eq!(get(&digest, Question::method("billing"), 5, at(0)), None);
        assert_eq!(
            get(&digest, Question::api_set("billing"), 6, at(0)),
            None,
            "a change"
        );
        assert_eq!(
            get(&digest, Question::api_set("billing"), 5, at(100)),
            None,
            "expired"
        );
    }
}
