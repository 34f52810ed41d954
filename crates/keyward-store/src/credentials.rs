//! API client credentials: the credential row, the API sets it may use and the versions of
//! its secret.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::{
    Store, StoreError, api_sets, changes,
    entity::{credential_api_sets, credential_secrets, credentials, hmac_nonces},
    error::on_foreign_key,
    model::{
        Changed, Credential, CredentialScheme, CredentialSecret, CredentialState, CredentialUpdate,
        LastUsed, NewCredential, NewSecretVersion, Page, PageRequest, RenewedSecret,
        SecretMaterial, SecretRenewal,
    },
    paging::{micros, normalize_email, now, page, page_size, revised, sorted_unique},
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
            compromise_time: None,
        };
        let secret = secret_row(&row.id, 1, new.first_secret, now);

        let txn = self.begin().await?;
        api_sets::require_api_sets(&txn, &api_set_ids).await?;
        let account_id = row.account_id.clone();
        credentials::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_foreign_key("account", || {
                format!("unknown account `{account_id}`")
            }))?;
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
        let key_id = secret.key_id.clone();
        credential_secrets::Entity::insert(secret.into_active_model())
            .exec_without_returning(&txn)
            .await?;
        let mut changed = vec![
            credential_changed(&row.account_id, &row.id),
            Changed::ClientId {
                account_id: row.account_id.clone(),
                client_id: row.client_id.clone(),
            },
        ];
        changed.extend(key_id.map(|key_id| Changed::SecretKey {
            account_id: row.account_id.clone(),
            key_id,
        }));
        changes::record(&txn, changed).await?;
        txn.commit().await?;
        self.after_commit().await;
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
        secrets_of(&self.db, credential_id).await
    }

    /// Lists an account's credentials by id, ascending, with their API sets; only those in
    /// `state` and with `scheme` when given.
    pub async fn list_credentials(
        &self,
        account_id: &str,
        state: Option<CredentialState>,
        scheme: Option<CredentialScheme>,
        request: PageRequest,
    ) -> Result<Page<Credential>, StoreError> {
        let size = page_size(request.limit);
        let mut query = credentials::Entity::find()
            .filter(credentials::Column::AccountId.eq(account_id))
            .order_by_asc(credentials::Column::Id);
        if let Some(state) = state {
            query = query.filter(credentials::Column::State.eq(state.as_str()));
        }
        if let Some(scheme) = scheme {
            query = query.filter(credentials::Column::Scheme.eq(scheme.as_str()));
        }
        if let Some(after) = request.after {
            query = query.filter(credentials::Column::Id.gt(after));
        }
        let rows = page(query.limit(size + 1).all(&self.db).await?, size, |row| {
            row.id.clone()
        });
        let ids: Vec<String> = rows.items.iter().map(|row| row.id.clone()).collect();
        let mut api_sets = api_set_ids_of(&self.db, &ids).await?;
        Ok(Page {
            items: rows
                .items
                .into_iter()
                .map(|row| {
                    let api_set_ids = api_sets.remove(&row.id).unwrap_or_default();
                    credential(row, api_set_ids)
                })
                .collect::<Result<_, _>>()?,
            next_after: rows.next_after,
        })
    }

    /// The stored secret versions of each of the credentials `credential_ids`, newest first.
    pub async fn credential_secrets_of(
        &self,
        credential_ids: &[String],
    ) -> Result<HashMap<String, Vec<CredentialSecret>>, StoreError> {
        let mut out: HashMap<String, Vec<CredentialSecret>> = HashMap::new();
        if credential_ids.is_empty() {
            return Ok(out);
        }
        let rows = credential_secrets::Entity::find()
            .filter(credential_secrets::Column::CredentialId.is_in(credential_ids.iter().cloned()))
            .order_by_desc(credential_secrets::Column::Version)
            .all(&self.db)
            .await?;
        for row in rows {
            let secret = CredentialSecret::try_from(row)?;
            out.entry(secret.credential_id.clone())
                .or_default()
                .push(secret);
        }
        Ok(out)
    }

    /// Changes a credential's display name, description, application or API sets, all or
    /// nothing, and returns it. With `expected_revision`, refuses with
    /// [`StoreError::Conflict`] if the credential changed since that revision was read.
    pub async fn update_credential(
        &self,
        account_id: &str,
        id: &str,
        update: CredentialUpdate,
        expected_revision: Option<i64>,
    ) -> Result<Credential, StoreError> {
        let txn = self.begin().await?;
        let mut query = bump(account_id, id, expected_revision);
        if let Some(display_name) = update.display_name {
            query = query.col_expr(credentials::Column::DisplayName, Expr::value(display_name));
        }
        if let Some(description) = update.description {
            query = query.col_expr(credentials::Column::Description, Expr::value(description));
        }
        if let Some(application) = update.application {
            query = query.col_expr(credentials::Column::Application, Expr::value(application));
        }
        let updated = query.exec(&txn).await?.rows_affected;
        let row = find_in_account(&txn, account_id, id).await?;
        let row = revised(updated, row, || not_found(id))?;
        if let Some(api_set_ids) = update.api_set_ids {
            let api_set_ids = sorted_unique(&api_set_ids);
            api_sets::require_api_sets(&txn, &api_set_ids).await?;
            credential_api_sets::Entity::delete_many()
                .filter(credential_api_sets::Column::CredentialId.eq(id))
                .exec(&txn)
                .await?;
            credential_api_sets::Entity::insert_many(api_set_ids.iter().map(|api_set_id| {
                credential_api_sets::Model {
                    credential_id: id.to_owned(),
                    api_set_id: api_set_id.clone(),
                }
                .into_active_model()
            }))
            .exec_without_returning(&txn)
            .await
            .map_err(on_foreign_key("api set", || {
                "an api set was deleted meanwhile".to_owned()
            }))?;
        }
        let credential = with_api_sets(&txn, row).await?;
        changes::record(&txn, [credential_changed(account_id, id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(credential)
    }

    /// Enables or disables a credential and returns it. Setting the state it already has
    /// changes nothing (not even the revision). A compromised credential (see
    /// [`Store::mark_credential_compromised`]) is not enabled: [`StoreError::Compromised`]. With `expected_revision`, refuses with
    /// [`StoreError::Conflict`] if the credential changed since that revision was read.
    pub async fn set_credential_state(
        &self,
        account_id: &str,
        id: &str,
        state: CredentialState,
        expected_revision: Option<i64>,
    ) -> Result<Credential, StoreError> {
        let txn = self.begin().await?;
        let mut update = bump(account_id, id, expected_revision)
            .col_expr(credentials::Column::State, Expr::value(state.as_str()))
            .filter(credentials::Column::State.ne(state.as_str()));
        if state == CredentialState::Active {
            // A compromised credential stays disabled until its secret is renewed.
            update = update.filter(credentials::Column::CompromiseTime.is_null());
        }
        let updated = update.exec(&txn).await?.rows_affected;
        let row = find_in_account(&txn, account_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if updated == 0 && expected_revision.is_some_and(|revision| revision != row.revision) {
            return Err(StoreError::Conflict);
        }
        if updated == 0 && state == CredentialState::Active && row.compromise_time.is_some() {
            return Err(StoreError::Compromised { id: id.to_owned() });
        }
        let credential = with_api_sets(&txn, row).await?;
        if updated > 0 {
            changes::record(&txn, [credential_changed(account_id, id)]).await?;
        }
        txn.commit().await?;
        if updated > 0 {
            self.after_commit().await;
        }
        Ok(credential)
    }

    /// Deletes a credential with its API sets, secret versions and nonces. With
    /// `expected_revision`, refuses with [`StoreError::Conflict`] if the credential changed
    /// since that revision was read.
    pub async fn delete_credential(
        &self,
        account_id: &str,
        id: &str,
        expected_revision: Option<i64>,
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        let row = find_in_account(&txn, account_id, id).await?;
        let mut query = credentials::Entity::delete_many()
            .filter(credentials::Column::Id.eq(id))
            .filter(credentials::Column::AccountId.eq(account_id));
        if let Some(revision) = expected_revision {
            query = query.filter(credentials::Column::Revision.eq(revision));
        }
        // One statement: the API sets, secret versions and nonces go with the credential
        // (cascade).
        let deleted = query.exec(&txn).await?.rows_affected;
        let row = match (deleted, row) {
            (0, row) => {
                revised(0, row, || not_found(id))?;
                return Ok(());
            }
            (_, row) => row.ok_or_else(|| not_found(id))?,
        };
        let changed = [
            credential_changed(account_id, id),
            Changed::ClientId {
                account_id: account_id.to_owned(),
                client_id: row.client_id,
            },
        ];
        changes::record(&txn, changed).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(())
    }

    /// Marks a credential compromised at `now` (a leak report proved one of its secrets)
    /// and disables it, in one update recorded in the change log, so that every replica
    /// refuses its secrets at once. Returns the credential as it is afterwards, and whether
    /// this call marked it (`false` when it was compromised already: nothing changes then,
    /// not even the revision).
    pub async fn mark_credential_compromised(
        &self,
        account_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Credential, bool), StoreError> {
        let now = micros(now);
        let txn = self.begin().await?;
        let updated = bump(account_id, id, None)
            .col_expr(
                credentials::Column::State,
                Expr::value(CredentialState::Disabled.as_str()),
            )
            .col_expr(credentials::Column::CompromiseTime, Expr::value(now))
            .filter(credentials::Column::CompromiseTime.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        let row = find_in_account(&txn, account_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let credential = with_api_sets(&txn, row).await?;
        if updated > 0 {
            changes::record(&txn, [credential_changed(account_id, id)]).await?;
        }
        txn.commit().await?;
        if updated > 0 {
            self.after_commit().await;
        }
        Ok((credential, updated > 0))
    }

    /// Issues a new current secret version for a credential, all or nothing, and returns
    /// the credential:
    ///
    /// - the version that was current keeps verifying until `grace_until` if that is after
    ///   `now`, else it is deleted at once;
    /// - every older version (one still in an earlier grace period) is deleted: never more
    ///   than two versions verify;
    /// - the new version is the highest number so far plus one;
    /// - a compromised credential gets no grace period, and is compromised no more (it
    ///   stays disabled until enabled).
    ///
    /// The credential's revision is bumped first, which locks its row: concurrent renewals
    /// of one credential run one after the other, each seeing the previous one's result,
    /// so exactly one version is current afterwards. With `expected_revision`, refuses with
    /// [`StoreError::Conflict`] if the credential changed since that revision was read.
    pub async fn renew_credential_secret(
        &self,
        account_id: &str,
        id: &str,
        renewal: SecretRenewal,
        expected_revision: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<RenewedSecret, StoreError> {
        let now = micros(now);
        let txn = self.begin().await?;
        let updated = bump(account_id, id, expected_revision)
            .exec(&txn)
            .await?
            .rows_affected;
        let row = find_in_account(&txn, account_id, id).await?;
        let row = revised(updated, row, || not_found(id))?;
        if renewal.secret.material.scheme().as_str() != row.scheme {
            return Err(StoreError::Internal(DbErr::Custom(format!(
                "a {} secret cannot renew a {} credential",
                renewal.secret.material.scheme().as_str(),
                row.scheme
            ))));
        }
        let versions: Vec<i32> = credential_secrets::Entity::find()
            .select_only()
            .column(credential_secrets::Column::Version)
            .filter(credential_secrets::Column::CredentialId.eq(id))
            .order_by_desc(credential_secrets::Column::Version)
            .into_tuple()
            .all(&txn)
            .await?;
        let newest = versions.first().copied().unwrap_or(0);
        // A compromised credential's earlier secrets end at once, whatever grace was asked.
        let compromised = row.compromise_time.is_some();
        let grace_until = renewal
            .grace_until
            .map(micros)
            .filter(|until| *until > now && !compromised);
        // Everything older than the version being replaced goes; that one too without
        // a grace period.
        let keep = match grace_until {
            Some(_) if newest > 0 => Some(newest),
            _ => None,
        };
        let mut delete = credential_secrets::Entity::delete_many()
            .filter(credential_secrets::Column::CredentialId.eq(id));
        if let Some(keep) = keep {
            delete = delete.filter(credential_secrets::Column::Version.ne(keep));
        }
        delete.exec(&txn).await?;
        if let (Some(keep), Some(until)) = (keep, grace_until) {
            credential_secrets::Entity::update_many()
                .col_expr(credential_secrets::Column::ExpireTime, Expr::value(until))
                .filter(credential_secrets::Column::CredentialId.eq(id))
                .filter(credential_secrets::Column::Version.eq(keep))
                .exec(&txn)
                .await?;
        }
        let key_id = renewal.secret.key_id.clone();
        let version = newest + 1;
        credential_secrets::Entity::insert(
            secret_row(id, version, renewal.secret, now).into_active_model(),
        )
        .exec_without_returning(&txn)
        .await?;
        let row = if compromised {
            credentials::Entity::update_many()
                .col_expr(
                    credentials::Column::CompromiseTime,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(credentials::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            credentials::Model {
                compromise_time: None,
                ..row
            }
        } else {
            row
        };
        let credential = with_api_sets(&txn, row).await?;
        let secrets = secrets_of(&txn, id).await?;
        let changed = [
            credential_changed(account_id, id),
            Changed::SecretKey {
                account_id: account_id.to_owned(),
                key_id,
            },
        ];
        changes::record(&txn, changed).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(RenewedSecret {
            credential,
            secrets,
            version,
        })
    }

    /// Records that a secret version verified a request at `time`: one `UPDATE` by primary
    /// key, no read; bookkeeping that changes neither revision nor update time. An unknown
    /// version, or a `time` not after the recorded one, is a no-op.
    pub async fn touch_credential_secret_last_used(
        &self,
        credential_id: &str,
        version: i32,
        time: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        touch_credential_secret(&self.db, credential_id, version, time).await
    }

    /// Records many uses at once, in one transaction (all or nothing): what the last-used
    /// recorder writes in the background, so that a burst of first uses (a restart, a fleet
    /// of keys each used now and then) costs one commit per batch instead of one per use.
    /// Each time only moves a recorded time forward.
    pub async fn touch_last_used(
        &self,
        uses: &[(LastUsed<'_>, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        let txn = self.begin().await?;
        for (used, time) in uses {
            match used {
                LastUsed::ApiKey(id) => crate::api_keys::touch_api_key(&txn, id, *time).await?,
                LastUsed::CredentialSecret {
                    credential_id,
                    version,
                } => touch_credential_secret(&txn, credential_id, *version, *time).await?,
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Claims an HMAC nonce for a credential until `expire_time`, in one atomic statement:
    /// `true` if it was free (never seen, or seen but expired at `now`), `false` if a live
    /// claim holds it, that is, a replay. Of many concurrent claims of one nonce exactly one
    /// gets `true`.
    pub async fn claim_hmac_nonce(
        &self,
        credential_id: &str,
        nonce: &str,
        expire_time: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let row = hmac_nonces::Model {
            credential_id: credential_id.to_owned(),
            nonce: nonce.to_owned(),
            expire_time: micros(expire_time),
        };
        let mut on_conflict = OnConflict::columns([
            hmac_nonces::Column::CredentialId,
            hmac_nonces::Column::Nonce,
        ]);
        on_conflict
            .update_column(hmac_nonces::Column::ExpireTime)
            .action_and_where(
                Expr::col((hmac_nonces::Entity, hmac_nonces::Column::ExpireTime)).lte(micros(now)),
            );
        let inserted = hmac_nonces::Entity::insert(row.into_active_model())
            .on_conflict(on_conflict)
            .exec_without_returning(&self.db)
            .await
            .map_err(on_foreign_key("credential", || {
                format!("unknown credential `{credential_id}`")
            }))?;
        Ok(inserted == 1)
    }

    /// Deletes the nonce claims that expired at `now`; returns how many.
    pub async fn purge_expired_hmac_nonces(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(hmac_nonces::Entity::delete_many()
            .filter(hmac_nonces::Column::ExpireTime.lte(micros(now)))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// The ids of the master keys that sealed at least one stored secret, sorted.
    pub async fn sealing_master_key_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = credential_secrets::Entity::find()
            .select_only()
            .column(credential_secrets::Column::MasterKeyId)
            .filter(credential_secrets::Column::MasterKeyId.is_not_null())
            .distinct()
            .into_tuple::<String>()
            .all(&self.db)
            .await?;
        ids.sort();
        Ok(ids)
    }

    /// Up to `limit` sealed secrets not sealed under `master_key_id`, after the secret
    /// `after` (credential id, version) in that order: what a re-seal pass works through.
    pub async fn secrets_sealed_under_other_keys(
        &self,
        master_key_id: &str,
        after: Option<(&str, i32)>,
        limit: u64,
    ) -> Result<Vec<CredentialSecret>, StoreError> {
        let mut query = credential_secrets::Entity::find()
            .filter(credential_secrets::Column::MasterKeyId.is_not_null())
            .filter(credential_secrets::Column::MasterKeyId.ne(master_key_id))
            .order_by_asc(credential_secrets::Column::CredentialId)
            .order_by_asc(credential_secrets::Column::Version)
            .limit(limit);
        if let Some((credential_id, version)) = after {
            query = query.filter(
                Condition::any()
                    .add(credential_secrets::Column::CredentialId.gt(credential_id))
                    .add(
                        Condition::all()
                            .add(credential_secrets::Column::CredentialId.eq(credential_id))
                            .add(credential_secrets::Column::Version.gt(version)),
                    ),
            );
        }
        query
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| CredentialSecret::try_from(row).map_err(StoreError::from))
            .collect()
    }

    /// Replaces the sealed form of one secret version, if it is still sealed under
    /// `previous_master_key_id` (false otherwise: it changed or went meanwhile). Nothing
    /// else about the secret changes.
    pub async fn reseal_secret(
        &self,
        credential_id: &str,
        version: i32,
        previous_master_key_id: &str,
        ciphertext: Vec<u8>,
        master_key_id: &str,
    ) -> Result<bool, StoreError> {
        let txn = self.begin().await?;
        let updated = credential_secrets::Entity::update_many()
            .col_expr(
                credential_secrets::Column::SecretCiphertext,
                Expr::value(ciphertext),
            )
            .col_expr(
                credential_secrets::Column::MasterKeyId,
                Expr::value(master_key_id),
            )
            .filter(credential_secrets::Column::CredentialId.eq(credential_id))
            .filter(credential_secrets::Column::Version.eq(version))
            .filter(credential_secrets::Column::MasterKeyId.eq(previous_master_key_id))
            .exec(&txn)
            .await?
            .rows_affected;
        if updated != 1 {
            return Ok(false);
        }
        let account_id: Option<String> = credentials::Entity::find_by_id(credential_id)
            .select_only()
            .column(credentials::Column::AccountId)
            .into_tuple()
            .one(&txn)
            .await?;
        let account_id = account_id.unwrap_or_default();
        changes::record(&txn, [credential_changed(&account_id, credential_id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(true)
    }

    /// One stored secret sealed under `master_key_id`, if any: startup opens it to prove the
    /// configured key is the one that sealed it.
    pub async fn sealed_secret_sample(
        &self,
        master_key_id: &str,
    ) -> Result<Option<CredentialSecret>, StoreError> {
        let row = credential_secrets::Entity::find()
            .filter(credential_secrets::Column::MasterKeyId.eq(master_key_id))
            .one(&self.db)
            .await?;
        Ok(row.map(CredentialSecret::try_from).transpose()?)
    }
}

/// The change-log entry of a credential.
fn credential_changed(account_id: &str, credential_id: &str) -> Changed {
    Changed::Credential {
        account_id: account_id.to_owned(),
        credential_id: credential_id.to_owned(),
    }
}

/// `UPDATE credentials SET revision = revision + 1, update_time = now WHERE id AND account
/// [AND revision]`: the start of every change, which also locks the row.
fn bump(
    account_id: &str,
    id: &str,
    expected_revision: Option<i64>,
) -> sea_orm::UpdateMany<credentials::Entity> {
    let mut query = credentials::Entity::update_many()
        .col_expr(
            credentials::Column::Revision,
            Expr::col(credentials::Column::Revision).add(1),
        )
        .col_expr(credentials::Column::UpdateTime, Expr::value(now()))
        .filter(credentials::Column::Id.eq(id))
        .filter(credentials::Column::AccountId.eq(account_id));
    if let Some(revision) = expected_revision {
        query = query.filter(credentials::Column::Revision.eq(revision));
    }
    query
}

async fn find_in_account(
    db: &impl ConnectionTrait,
    account_id: &str,
    id: &str,
) -> Result<Option<credentials::Model>, StoreError> {
    Ok(credentials::Entity::find_by_id(id)
        .filter(credentials::Column::AccountId.eq(account_id))
        .one(db)
        .await?)
}

/// The API sets of each of `ids`, sorted.
async fn api_set_ids_of(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    crate::api_sets::linked_api_set_ids::<credential_api_sets::Entity>(
        db,
        credential_api_sets::Column::CredentialId,
        ids,
        |row| (row.credential_id, row.api_set_id),
    )
    .await
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
        compromise_time: row.compromise_time,
    })
}

fn secret_row(
    credential_id: &str,
    version: i32,
    secret: NewSecretVersion,
    now: DateTime<Utc>,
) -> credential_secrets::Model {
    let (secret_hash, secret_ciphertext, master_key_id) = match secret.material {
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
        key_id: Some(secret.key_id),
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
            key_id: row.key_id,
        })
    }
}

/// Moves a secret version's last-used time to `time` unless the recorded one is later.
async fn touch_credential_secret(
    db: &impl ConnectionTrait,
    credential_id: &str,
    version: i32,
    time: DateTime<Utc>,
) -> Result<(), StoreError> {
    let time = micros(time);
    credential_secrets::Entity::update_many()
        .col_expr(credential_secrets::Column::LastUsedTime, Expr::value(time))
        .filter(credential_secrets::Column::CredentialId.eq(credential_id))
        .filter(credential_secrets::Column::Version.eq(version))
        .filter(
            credential_secrets::Column::LastUsedTime
                .is_null()
                .or(credential_secrets::Column::LastUsedTime.lt(time)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// The secret versions of a credential, newest first.
async fn secrets_of(
    db: &impl ConnectionTrait,
    credential_id: &str,
) -> Result<Vec<CredentialSecret>, StoreError> {
    let rows = credential_secrets::Entity::find()
        .filter(credential_secrets::Column::CredentialId.eq(credential_id))
        .order_by_desc(credential_secrets::Column::Version)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(CredentialSecret::try_from)
        .collect::<Result<_, _>>()?)
}
