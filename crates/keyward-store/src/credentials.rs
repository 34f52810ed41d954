//! API client credentials: the credential row, the API sets it may use and the versions of
//! its secret.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    TransactionTrait,
};

use crate::{
    Store, StoreError,
    api_sets::first_unknown_api_set,
    entity::{credential_api_sets, credential_secrets, credentials},
    error::on_foreign_key,
    model::{
        Credential, CredentialScheme, CredentialSecret, CredentialState, NewCredential,
        SecretMaterial,
    },
    paging::{normalize_email, now, sorted_unique},
};

impl Store {
    /// Creates an active credential at revision 1 with its API sets and secret version 1,
    /// all or nothing.
    ///
    /// [`StoreError::AlreadyExists`] names the rule ("credential id", "credential client id",
    /// or "credential contact email": one credential per contact email per account, compared
    /// case-insensitively); [`StoreError::ForeignKey`] names an unknown account or API set.
    pub async fn create_credential(&self, new: NewCredential) -> Result<Credential, StoreError> {
        let now = now();
        let api_set_ids = sorted_unique(&new.api_set_ids);
        let contact_email = new.contact_email.trim().to_owned();
        let row = credentials::Model {
            id: new.id,
            account_id: new.account_id,
            client_id: new.client_id,
            display_name: new.display_name,
            description: new.description,
            application: new.application,
            contact_email_normalized: normalize_email(&contact_email),
            contact_email,
            scheme: new.first_secret.material.scheme().as_str().to_owned(),
            state: CredentialState::Active.as_str().to_owned(),
            expire_time: new.expire_time,
            creator: new.creator,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        let secret = secret_row(&row.id, 1, new.first_secret.material, now);

        let txn = self.db.begin().await?;
        let account_id = row.account_id.clone();
        credentials::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_foreign_key("account", || {
                format!("unknown account `{account_id}`")
            }))?;
        // Named here for a precise error; the foreign key still guards against a
        // concurrent deletion.
        if let Some(unknown) = first_unknown_api_set(&txn, &api_set_ids).await? {
            return Err(StoreError::ForeignKey {
                entity: "api set",
                detail: format!("unknown api set `{unknown}`"),
            });
        }
        credential_api_sets::Entity::insert_many(api_set_ids.iter().map(|api_set_id| {
            credential_api_sets::Model {
                credential_id: row.id.clone(),
                api_set_id: api_set_id.clone(),
            }
            .into_active_model()
        }))
        .exec_without_returning(&txn)
        .await
        .map_err(on_foreign_key("api set", || {
            "an api set was deleted meanwhile".to_owned()
        }))?;
        credential_secrets::Entity::insert(secret.into_active_model())
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(credential(row, api_set_ids)?)
    }

    /// Reads a credential of an account, with its API sets.
    pub async fn get_credential(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Credential, StoreError> {
        let row = credentials::Entity::find_by_id(id)
            .filter(credentials::Column::AccountId.eq(account_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found(id))?;
        with_api_sets(&self.db, row).await
    }

    /// Reads the credential with this client ID, whatever its account (for verification).
    pub async fn get_credential_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Credential, StoreError> {
        let row = credentials::Entity::find()
            .filter(credentials::Column::ClientId.eq(client_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found(client_id))?;
        with_api_sets(&self.db, row).await
    }

    /// Every stored version of a credential's secret, newest first.
    pub async fn list_credential_secrets(
        &self,
        credential_id: &str,
    ) -> Result<Vec<CredentialSecret>, StoreError> {
        let rows = credential_secrets::Entity::find()
            .filter(credential_secrets::Column::CredentialId.eq(credential_id))
            .order_by_desc(credential_secrets::Column::Version)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(CredentialSecret::try_from)
            .collect::<Result<_, _>>()?)
    }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        entity: "credential",
        id: id.to_owned(),
    }
}

async fn with_api_sets(
    db: &impl ConnectionTrait,
    row: credentials::Model,
) -> Result<Credential, StoreError> {
    let mut api_set_ids: Vec<String> = credential_api_sets::Entity::find()
        .filter(credential_api_sets::Column::CredentialId.eq(&row.id))
        .all(db)
        .await?
        .into_iter()
        .map(|link| link.api_set_id)
        .collect();
    // Sorted here, not by the database: collations differ between backends.
    api_set_ids.sort();
    Ok(credential(row, api_set_ids)?)
}

fn credential(row: credentials::Model, api_set_ids: Vec<String>) -> Result<Credential, DbErr> {
    Ok(Credential {
        scheme: CredentialScheme::from_stored(&row.scheme)
            .ok_or_else(|| DbErr::Type(format!("unknown credential scheme `{}`", row.scheme)))?,
        state: CredentialState::from_stored(&row.state)
            .ok_or_else(|| DbErr::Type(format!("unknown credential state `{}`", row.state)))?,
        id: row.id,
        account_id: row.account_id,
        client_id: row.client_id,
        display_name: row.display_name,
        description: row.description,
        application: row.application,
        contact_email: row.contact_email,
        expire_time: row.expire_time,
        creator: row.creator,
        api_set_ids,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    })
}

fn secret_row(
    credential_id: &str,
    version: i32,
    material: SecretMaterial,
    now: chrono::DateTime<chrono::Utc>,
) -> credential_secrets::Model {
    let (secret_hash, secret_ciphertext, master_key_id) = match material {
        SecretMaterial::Hash(hash) => (Some(hash), None, None),
        SecretMaterial::Sealed {
            ciphertext,
            master_key_id,
        } => (None, Some(ciphertext), Some(master_key_id)),
    };
    credential_secrets::Model {
        credential_id: credential_id.to_owned(),
        version,
        secret_hash,
        secret_ciphertext,
        master_key_id,
        create_time: now,
        expire_time: None,
        last_used_time: None,
    }
}

impl TryFrom<credential_secrets::Model> for CredentialSecret {
    type Error = DbErr;

    fn try_from(row: credential_secrets::Model) -> Result<Self, DbErr> {
        let material = match (row.secret_hash, row.secret_ciphertext, row.master_key_id) {
            (Some(hash), None, None) => SecretMaterial::Hash(hash),
            (None, Some(ciphertext), Some(master_key_id)) => SecretMaterial::Sealed {
                ciphertext,
                master_key_id,
            },
            _ => {
                return Err(DbErr::Type(format!(
                    "secret version {} of credential `{}` has no single kind of material",
                    row.version, row.credential_id
                )));
            }
        };
        Ok(CredentialSecret {
            credential_id: row.credential_id,
            version: row.version,
            material,
            create_time: row.create_time,
            expire_time: row.expire_time,
            last_used_time: row.last_used_time,
        })
    }
}
