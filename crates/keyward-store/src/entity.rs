//! SeaORM entities, one module per table. They mirror the schema that `migration` creates
//! (the migration is the source of truth for keys, indexes and foreign keys; the entities
//! carry only what queries need) and never leave this crate: the query modules convert them
//! to the plain structs of [`crate::model`].

pub(crate) mod account_api_sets;
pub(crate) mod accounts;
pub(crate) mod api_key_api_sets;
pub(crate) mod api_keys;
pub(crate) mod api_set_methods;
pub(crate) mod api_sets;
pub(crate) mod audit_events;
pub(crate) mod audit_heads;
pub(crate) mod changes;
pub(crate) mod credential_api_sets;
pub(crate) mod credential_secrets;
pub(crate) mod credentials;
pub(crate) mod enrollment_token_api_sets;
pub(crate) mod enrollment_tokens;
pub(crate) mod idempotency_records;
pub(crate) mod role_authorities;
pub(crate) mod roles;
pub(crate) mod user_roles;
pub(crate) mod users;

#[allow(dead_code, reason = "queried from the hmac verification issue on")]
pub(crate) mod hmac_nonces;

#[cfg(test)]
mod tests {
    //! Every entity must read from the table the migration creates: a column renamed on one
    //! side only fails here rather than in production.

    use sea_orm::{EntityTrait, QuerySelect};

    use super::*;
    use crate::Store;

    #[tokio::test]
    async fn every_entity_matches_the_migrated_schema() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let db = &store.db;
        macro_rules! check {
            ($($entity:ident),+ $(,)?) => {
                $(
                    let rows = $entity::Entity::find().limit(1).all(db).await;
                    assert!(rows.is_ok(), "{}: {:?}", stringify!($entity), rows.err());
                )+
            };
        }
        check!(
            account_api_sets,
            accounts,
            api_key_api_sets,
            api_keys,
            api_set_methods,
            api_sets,
            audit_events,
            changes,
            credential_api_sets,
            credential_secrets,
            credentials,
            enrollment_token_api_sets,
            enrollment_tokens,
            hmac_nonces,
            idempotency_records,
            role_authorities,
            roles,
            user_roles,
            users,
        );
    }
}
