//! Idempotency records: a request ID is claimed, pending, then done with its result until it
//! expires, by one of concurrent duplicates, in the transaction of its work.

use chrono::{DateTime, Utc};
use keyward_store::{IdempotencyClaim, NewIdempotencyRecord, testing::TestBackend};

use crate::support::{TestDb, new_api_key, new_user, seed_roles};

keyward_store::on_every_backend!(
    a_request_id_is_claimed_pending_then_finished_until_it_expires,
    of_concurrent_duplicate_requests_one_claims_the_request_id,
    a_request_id_is_done_in_the_transaction_of_its_work_and_pending_if_the_work_fails,
);

fn new_record(scope: &str, request_id: &str, expire_time: DateTime<Utc>) -> NewIdempotencyRecord {
    NewIdempotencyRecord {
        scope: scope.to_owned(),
        request_id: request_id.to_owned(),
        request_fingerprint: format!("sha256:{scope}:{request_id}"),
        expire_time,
    }
}

async fn a_request_id_is_claimed_pending_then_finished_until_it_expires(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    let long_ago = Utc::now() - chrono::Duration::minutes(10);
    let scope = "accounts/acme/users/alice:CreateCredential";
    let resource = "accounts/acme/credentials/c1";

    assert_eq!(
        store.find_idempotency_record(scope, "r1").await.unwrap(),
        None,
        "{b}"
    );
    let claim = store
        .claim_idempotency_record(new_record(scope, "r1", tomorrow), long_ago)
        .await
        .unwrap();
    assert_eq!(claim, IdempotencyClaim::Claimed, "{b}");
    // Pending: held, with no resource yet, and not taken over while fresh.
    let IdempotencyClaim::Held(pending) = store
        .claim_idempotency_record(new_record(scope, "r1", tomorrow), long_ago)
        .await
        .unwrap()
    else {
        panic!("{b}: a claimed id is held");
    };
    assert_eq!(pending.resource_name, "", "{b}");
    assert_eq!(
        pending.request_fingerprint,
        format!("sha256:{scope}:r1"),
        "{b}"
    );

    // Finished: the resource is named, and later claims see it.
    store
        .complete_idempotency_record(scope, "r1", resource)
        .await
        .unwrap();
    let IdempotencyClaim::Held(done) = store
        .claim_idempotency_record(new_record(scope, "r1", tomorrow), Utc::now())
        .await
        .unwrap()
    else {
        panic!("{b}: a finished id is held, even past the pending timeout");
    };
    assert_eq!(done.resource_name, resource, "{b}");
    // Releasing a finished record does nothing.
    store.release_idempotency_record(scope, "r1").await.unwrap();
    assert_eq!(
        store.find_idempotency_record(scope, "r1").await.unwrap(),
        Some(done),
        "{b}"
    );
    // The same request id in another scope is another request.
    assert_eq!(
        store
            .claim_idempotency_record(new_record("other", "r1", tomorrow), long_ago)
            .await
            .unwrap(),
        IdempotencyClaim::Claimed,
        "{b}"
    );

    // A released claim can be claimed again at once.
    store
        .claim_idempotency_record(new_record(scope, "r2", tomorrow), long_ago)
        .await
        .unwrap();
    store.release_idempotency_record(scope, "r2").await.unwrap();
    assert_eq!(
        store.find_idempotency_record(scope, "r2").await.unwrap(),
        None,
        "{b}"
    );
    assert_eq!(
        store
            .claim_idempotency_record(new_record(scope, "r2", tomorrow), long_ago)
            .await
            .unwrap(),
        IdempotencyClaim::Claimed,
        "{b}"
    );
    // A stale pending claim (its request died) is taken over.
    assert_eq!(
        store
            .claim_idempotency_record(
                new_record(scope, "r2", tomorrow),
                Utc::now() + chrono::Duration::seconds(1)
            )
            .await
            .unwrap(),
        IdempotencyClaim::Claimed,
        "{b}"
    );

    // An expired record is not found, and gives way to a new claim.
    let past = Utc::now() - chrono::Duration::seconds(1);
    store
        .claim_idempotency_record(new_record(scope, "r3", past), long_ago)
        .await
        .unwrap();
    store
        .complete_idempotency_record(scope, "r3", resource)
        .await
        .unwrap();
    assert_eq!(
        store.find_idempotency_record(scope, "r3").await.unwrap(),
        None,
        "{b}"
    );
    assert_eq!(
        store
            .claim_idempotency_record(new_record(scope, "r3", tomorrow), long_ago)
            .await
            .unwrap(),
        IdempotencyClaim::Claimed,
        "{b}"
    );
}

async fn of_concurrent_duplicate_requests_one_claims_the_request_id(backend: TestBackend) {
    let db = TestDb::migrated(backend).await;
    let b = db.name;
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    let long_ago = Utc::now() - chrono::Duration::minutes(10);
    let mut claims = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let store = db.replica().await;
        claims.spawn(async move {
            store
                .claim_idempotency_record(new_record("scope", "r1", tomorrow), long_ago)
                .await
        });
    }
    let results = claims.join_all().await;
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Ok(IdempotencyClaim::Claimed)))
            .count(),
        1,
        "{b}: {results:?}"
    );
    for result in results {
        assert!(
            matches!(
                result,
                Ok(IdempotencyClaim::Claimed | IdempotencyClaim::Held(_))
            ),
            "{b}: {result:?}"
        );
    }
}

async fn a_request_id_is_done_in_the_transaction_of_its_work_and_pending_if_the_work_fails(
    backend: TestBackend,
) {
    let db = TestDb::migrated(backend).await;
    let (store, b) = (&db.store, db.name);
    seed_roles(store).await;
    store
        .create_user(new_user("acme", "alice", &["admin"]))
        .await
        .unwrap();
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    let long_ago = Utc::now() - chrono::Duration::minutes(10);
    let scope = "accounts/acme/users/alice:CreateApiKey";
    let completion = |request_id: &str, resource: &str| keyward_store::RequestCompletion {
        scope: scope.to_owned(),
        request_id: request_id.to_owned(),
        resource_name: resource.to_owned(),
    };

    // The work commits: the claim is done with it, with no separate step.
    store
        .claim_idempotency_record(new_record(scope, "r1", tomorrow), long_ago)
        .await
        .unwrap();
    let resource = "accounts/acme/users/alice/apiKeys/k1";
    store
        .completing(completion("r1", resource))
        .create_api_key(new_api_key("acme", "alice", "k1", &["keyward.verify"]))
        .await
        .unwrap();
    let record = store.find_idempotency_record(scope, "r1").await.unwrap();
    assert_eq!(
        record.map(|r| r.resource_name),
        Some(resource.to_owned()),
        "{b}"
    );

    // The work fails (an unknown user): its transaction, claim completion included,
    // is rolled back, and the claim is still pending for the request to release.
    store
        .claim_idempotency_record(new_record(scope, "r2", tomorrow), long_ago)
        .await
        .unwrap();
    let failed = store
        .completing(completion("r2", "accounts/acme/users/ghost/apiKeys/k2"))
        .create_api_key(new_api_key("acme", "ghost", "k2", &["keyward.verify"]))
        .await;
    assert!(failed.is_err(), "{b}");
    let record = store.find_idempotency_record(scope, "r2").await.unwrap();
    assert_eq!(
        record.map(|r| r.resource_name),
        Some(String::new()),
        "{b}: still pending"
    );
    // The store itself is untouched: other writes complete nothing.
    store
        .create_api_key(new_api_key("acme", "alice", "k3", &["keyward.verify"]))
        .await
        .unwrap();
    let record = store.find_idempotency_record(scope, "r2").await.unwrap();
    assert_eq!(record.map(|r| r.resource_name), Some(String::new()), "{b}");
}
