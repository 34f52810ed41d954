//! What the verification index loads when it does not hold a fact: one fact at a time, by
//! primary key or unique index, `None` when it does not exist (the index remembers that
//! too); and the scans that build its membership filter of key ids.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    Store, StoreError,
    entity::{api_keys, api_set_methods, credential_secrets, credentials},
    model::{Account, ApiKey, Credential, CredentialSecret, Role, User},
};

/// `Ok(None)` for a record that does not exist.
fn found<T>(result: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

impl Store {
    /// The API key `id` with its API sets, if it exists.
    pub async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        found(self.get_api_key(id).await)
    }

    /// The user with their roles, if they exist.
    pub async fn find_user(
        &self,
        account_id: &str,
        user_id: &str,
    ) -> Result<Option<User>, StoreError> {
        found(self.get_user(account_id, user_id).await)
    }

    /// The role with its authorities, if it exists.
    pub async fn find_role(
        &self,
        account_id: &str,
        role_id: &str,
    ) -> Result<Option<Role>, StoreError> {
        found(self.get_role(account_id, role_id).await)
    }

    /// The account, if it exists.
    pub async fn find_account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        found(self.get_account(id).await)
    }

    /// The credential `id` (whatever its account) with its API sets and every stored
    /// version of its secret, newest first; `None` if it does not exist.
    pub async fn find_credential(
        &self,
        id: &str,
    ) -> Result<Option<(Credential, Vec<CredentialSecret>)>, StoreError> {
        let account_id: Option<String> = credentials::Entity::find_by_id(id)
            .select_only()
            .column(credentials::Column::AccountId)
            .into_tuple()
            .one(&self.db)
            .await?;
        let Some(account_id) = account_id else {
            return Ok(None);
        };
        let Some(credential) = found(self.get_credential(&account_id, id).await)? else {
            return Ok(None);
        };
        let secrets = self.list_credential_secrets(id).await?;
        Ok(Some((credential, secrets)))
    }

    /// The id of the credential with this Client ID, if any.
    pub async fn credential_id_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(credentials::Entity::find()
            .select_only()
            .column(credentials::Column::Id)
            .filter(credentials::Column::ClientId.eq(client_id))
            .into_tuple()
            .one(&self.db)
            .await?)
    }

    /// The id of the credential one of whose secret versions embeds the key id `key_id`.
    pub async fn credential_id_by_secret_key_id(
        &self,
        key_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(credential_secrets::Entity::find()
            .select_only()
            .column(credential_secrets::Column::CredentialId)
            .filter(credential_secrets::Column::KeyId.eq(key_id))
            .into_tuple()
            .one(&self.db)
            .await?)
    }

    /// Every (API set, method) pair of the catalog.
    pub async fn catalog_methods(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(api_set_methods::Entity::find()
            .select_only()
            .column(api_set_methods::Column::ApiSetId)
            .column(api_set_methods::Column::Method)
            .into_tuple()
            .all(&self.db)
            .await?)
    }

    /// Up to `limit` API key ids after `after`, in order: a scan of every key id.
    pub async fn api_key_ids(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut query = api_keys::Entity::find()
            .select_only()
            .column(api_keys::Column::Id)
            .order_by_asc(api_keys::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(api_keys::Column::Id.gt(after));
        }
        Ok(query.into_tuple().all(&self.db).await?)
    }

    /// Up to `limit` key ids of stored client secret versions after `after`, in order: a
    /// scan of every client secret key id.
    pub async fn secret_key_ids(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut query = credential_secrets::Entity::find()
            .select_only()
            .column(credential_secrets::Column::KeyId)
            .filter(credential_secrets::Column::KeyId.is_not_null())
            .order_by_asc(credential_secrets::Column::KeyId)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(credential_secrets::Column::KeyId.gt(after));
        }
        let ids: Vec<Option<String>> = query.into_tuple().all(&self.db).await?;
        Ok(ids.into_iter().flatten().collect())
    }
}
