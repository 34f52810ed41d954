//! Bulk loading (feature `testing`): many API keys at once, for benchmarks that need a
//! database holding a million keys in minutes, not hours.
//!
//! [`Store::bulk_insert_api_keys`] writes what [`Store::create_api_key`] writes, row for row
//! (an active key at revision 1 and its API sets), with multi-row `INSERT`s: a chunk of keys
//! and their API-set grants is one transaction. It checks nothing beforehand: an unknown
//! user or API set is the foreign key's [`StoreError::ForeignKey`], a taken id a
//! [`StoreError::AlreadyExists`], and the chunk that met it is rolled back (earlier chunks
//! stay). It records no change in the change log: load while no server runs on the
//! database (a server starting afterwards reads every key id when it builds its index).

use sea_orm::{EntityTrait, IntoActiveModel};

use crate::{
    Store, StoreError,
    entity::{api_key_api_sets, api_keys},
    model::{ApiKeyState, NewApiKey},
    paging::{micros, now, sorted_unique},
};

/// Keys per `INSERT` into `api_keys`: 14 columns each, so a statement binds 28,000
/// parameters, under SQLite's limit of 32,766 (PostgreSQL allows 65,535).
const KEYS_PER_STATEMENT: usize = 2_000;
/// Grants per `INSERT` into `api_key_api_sets`: 2 columns each, 32,000 parameters.
const GRANTS_PER_STATEMENT: usize = 16_000;

impl Store {
    /// Inserts every key of `keys` as an active API key at revision 1 with its API sets, as
    /// [`Store::create_api_key`] would, in transactions of [`KEYS_PER_STATEMENT`] keys.
    /// For loading test data: nothing is checked before writing (see the module docs).
    pub async fn bulk_insert_api_keys(&self, keys: &[NewApiKey]) -> Result<(), StoreError> {
        let now = now();
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            let rows = chunk.iter().map(|new| {
                api_keys::Model {
                    id: new.id.clone(),
                    account_id: new.account_id.clone(),
                    user_id: new.user_id.clone(),
                    display_name: new.display_name.clone(),
                    description: new.description.clone(),
                    secret_hash: new.secret_hash.clone(),
                    state: ApiKeyState::Active.as_str().to_owned(),
                    expire_time: new.expire_time.map(micros),
                    revoke_time: None,
                    last_used_time: None,
                    creator: new.creator.clone(),
                    revision: 1,
                    create_time: now,
                    update_time: now,
                }
                .into_active_model()
            });
            let grants: Vec<api_key_api_sets::ActiveModel> = chunk
                .iter()
                .flat_map(|new| {
                    sorted_unique(&new.api_set_ids)
                        .into_iter()
                        .map(|api_set_id| {
                            api_key_api_sets::Model {
                                api_key_id: new.id.clone(),
                                api_set_id,
                            }
                            .into_active_model()
                        })
                })
                .collect();

            let txn = self.begin().await?;
            api_keys::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
            for grants in grants.chunks(GRANTS_PER_STATEMENT) {
                api_key_api_sets::Entity::insert_many(grants.iter().cloned())
                    .exec_without_returning(&txn)
                    .await?;
            }
            txn.commit().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{NewAccount, NewApiKey, NewApiSet, NewUser, Store, StoreError};

    async fn store_with_a_user() -> Store {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store
            .create_account(NewAccount {
                id: "acme".to_owned(),
                display_name: "Acme".to_owned(),
                client_id_prefix: "acme-".to_owned(),
                verified: true,
                operator: false,
                entitled_api_set_ids: Vec::new(),
            })
            .await
            .unwrap();
        for id in ["set.a", "set.b"] {
            store
                .create_api_set(NewApiSet {
                    id: id.to_owned(),
                    display_name: id.to_owned(),
                    description: String::new(),
                    methods: vec![format!("/{id}/Call")],
                    builtin: false,
                })
                .await
                .unwrap();
        }
        store
            .create_user(NewUser {
                account_id: "acme".to_owned(),
                id: "alice".to_owned(),
                display_name: "Alice".to_owned(),
                email: "alice@acme.test".to_owned(),
                role_ids: Vec::new(),
            })
            .await
            .unwrap();
        store
    }

    fn new_key(id: String, api_set_ids: &[&str]) -> NewApiKey {
        NewApiKey {
            id,
            account_id: "acme".to_owned(),
            user_id: "alice".to_owned(),
            display_name: "bulk".to_owned(),
            description: String::new(),
            secret_hash: "hash".to_owned(),
            expire_time: None,
            creator: "tests".to_owned(),
            api_set_ids: api_set_ids.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[tokio::test]
    async fn bulk_inserted_keys_read_back_like_created_ones() {
        let store = store_with_a_user().await;
        let created = store
            .create_api_key(new_key("created".to_owned(), &["set.b", "set.a"]))
            .await
            .unwrap();
        // More than one chunk, and a key holding a set twice.
        let keys: Vec<NewApiKey> = (0..4_500)
            .map(|i| new_key(format!("k{i:05}"), &["set.b", "set.a", "set.b"]))
            .collect();
        store.bulk_insert_api_keys(&keys).await.unwrap();

        for id in ["k00000", "k02000", "k04499"] {
            let read = store.get_api_key(id).await.unwrap();
            assert_eq!(read.api_set_ids, created.api_set_ids);
            assert_eq!(read.state, created.state);
            assert_eq!(read.revision, created.revision);
            assert_eq!(read.secret_hash, "hash");
            let access = store.api_key_access(id).await.unwrap().unwrap();
            assert_eq!(access.key.id, id);
        }
    }

    #[tokio::test]
    async fn an_unknown_api_set_fails_the_bulk_insert() {
        let store = store_with_a_user().await;
        let refused = store
            .bulk_insert_api_keys(&[new_key("k".to_owned(), &["nope"])])
            .await;
        assert!(
            matches!(refused, Err(StoreError::ForeignKey { .. })),
            "{refused:?}"
        );
        assert!(matches!(
            store.get_api_key("k").await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
