//! Accounts (tenants): create (alone, or with their initial roles, users and API keys), read,
//! list, rename, their entitlements to platform API sets, and the operator's *verified*
//! switch.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use std::collections::HashMap;

use crate::{
    Store, StoreError, api_keys, api_sets, changes,
    entity::{account_api_sets, accounts},
    error::on_foreign_key,
    model::{
        Account, AccountCreated, AccountSeed, AccountUpdate, Changed, NewAccount, Page, PageRequest,
    },
    paging::{now, page, page_size, revised, sorted_unique},
    roles, users,
};

const ENTITY: &str = "account";

impl Store {
    /// Creates an account at revision 1. [`StoreError::AlreadyExists`] names the rule
    /// ("account id", "account client id prefix", or "operator account": there is at most
    /// one).
    pub async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        let txn = self.begin().await?;
        let account = insert_account(&txn, new, now()).await?;
        changes::record(&txn, [account_changed(&account.id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(account)
    }

    /// Creates an account with its roles, then its users (who may hold those roles), then
    /// their API keys, all in one transaction: on any error nothing of it is left. Used to
    /// bootstrap the operator account and to create an account with its first administrator.
    ///
    /// Errors are those of [`create_account`](Store::create_account),
    /// [`create_role`](Store::create_role), [`create_user`](Store::create_user) and
    /// [`create_api_key`](Store::create_api_key); an item that names another account than
    /// the seed's is refused with [`StoreError::ForeignKey`] before anything is written. Two
    /// replicas bootstrapping the operator account at once: one of them gets
    /// [`StoreError::AlreadyExists`] ("account id" or "operator account").
    pub async fn create_account_with(
        &self,
        seed: AccountSeed,
    ) -> Result<AccountCreated, StoreError> {
        let AccountSeed {
            account,
            roles: new_roles,
            users: new_users,
            api_keys: new_keys,
        } = seed;
        let items = new_roles
            .iter()
            .map(|r| ("role", &r.id, &r.account_id))
            .chain(new_users.iter().map(|u| ("user", &u.id, &u.account_id)))
            .chain(new_keys.iter().map(|k| ("api key", &k.id, &k.account_id)));
        for (kind, id, account_id) in items {
            if *account_id != account.id {
                return Err(StoreError::ForeignKey {
                    entity: ENTITY,
                    detail: format!(
                        "{kind} `{id}` names account `{account_id}`, not the new account `{}`",
                        account.id
                    ),
                });
            }
        }

        let now = now();
        let txn = self.begin().await?;
        let account = insert_account(&txn, account, now).await?;
        let mut created = AccountCreated {
            account,
            roles: Vec::with_capacity(new_roles.len()),
            users: Vec::with_capacity(new_users.len()),
            api_keys: Vec::with_capacity(new_keys.len()),
        };
        for new in new_roles {
            created
                .roles
                .push(roles::insert_role(&txn, new, now).await?);
        }
        for new in new_users {
            created
                .users
                .push(users::insert_user(&txn, new, now).await?);
        }
        for new in new_keys {
            created
                .api_keys
                .push(api_keys::insert_api_key(&txn, new, now).await?);
        }
        let changed = std::iter::once(account_changed(&created.account.id))
            .chain(
                created
                    .roles
                    .iter()
                    .map(|r| roles::role_changed(&r.account_id, &r.id)),
            )
            .chain(
                created
                    .users
                    .iter()
                    .map(|u| users::user_changed(&u.account_id, &u.id)),
            )
            .chain(
                created
                    .api_keys
                    .iter()
                    .map(|k| api_keys::key_changed(&k.account_id, &k.id)),
            );
        changes::record(&txn, changed).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(created)
    }

    /// Reads an account.
    pub async fn get_account(&self, id: &str) -> Result<Account, StoreError> {
        let row = accounts::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found(id))?;
        with_entitlements(&self.db, row).await
    }

    /// The installation's operator account, if it has been created.
    pub async fn operator_account(&self) -> Result<Option<Account>, StoreError> {
        match accounts::Entity::find()
            .filter(accounts::Column::Operator.eq(true))
            .one(&self.db)
            .await?
        {
            Some(row) => Ok(Some(with_entitlements(&self.db, row).await?)),
            None => Ok(None),
        }
    }

    /// Lists accounts by id, ascending.
    pub async fn list_accounts(&self, request: PageRequest) -> Result<Page<Account>, StoreError> {
        let size = page_size(request.limit);
        let mut query = accounts::Entity::find().order_by_asc(accounts::Column::Id);
        if let Some(after) = request.after {
            query = query.filter(accounts::Column::Id.gt(after));
        }
        let rows = query.limit(size + 1).all(&self.db).await?;
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut entitlements = entitlements_of(&self.db, &ids).await?;
        let accounts = rows
            .into_iter()
            .map(|row| {
                let entitled = entitlements.remove(&row.id).unwrap_or_default();
                account(row, entitled)
            })
            .collect();
        Ok(page(accounts, size, |account| account.id.clone()))
    }

    /// Changes an account and returns it. With `expected_revision`, refuses with
    /// [`StoreError::Conflict`] if the account changed since that revision was read.
    /// New entitlements replace the old ones; an unknown API set is refused with
    /// [`StoreError::ForeignKey`]. Whether an API set may be an entitlement at all
    /// (built-in sets may not) and whether the account may have entitlements (the operator
    /// account has every set) is the caller's rule.
    pub async fn update_account(
        &self,
        id: &str,
        update: AccountUpdate,
        expected_revision: Option<i64>,
    ) -> Result<Account, StoreError> {
        let mut columns = Vec::new();
        if let Some(display_name) = update.display_name {
            columns.push((accounts::Column::DisplayName, Expr::value(display_name)));
        }
        self.update_columns(id, columns, update.entitled_api_set_ids, expected_revision)
            .await
    }

    /// Sets the *verified* flag and returns the updated account. With
    /// `expected_revision`, refuses with [`StoreError::Conflict`] if the account changed
    /// since that revision was read.
    pub async fn set_account_verified(
        &self,
        id: &str,
        verified: bool,
        expected_revision: Option<i64>,
    ) -> Result<Account, StoreError> {
        let columns = vec![(accounts::Column::Verified, Expr::value(verified))];
        self.update_columns(id, columns, None, expected_revision)
            .await
    }

    /// Sets `columns` (and the entitlements, when given), bumps the revision and update
    /// time, and reads the account back.
    async fn update_columns(
        &self,
        id: &str,
        columns: Vec<(accounts::Column, Expr)>,
        entitled: Option<Vec<String>>,
        expected_revision: Option<i64>,
    ) -> Result<Account, StoreError> {
        let txn = self.begin().await?;
        let mut update = accounts::Entity::update_many()
            .col_expr(
                accounts::Column::Revision,
                Expr::col(accounts::Column::Revision).add(1),
            )
            .col_expr(accounts::Column::UpdateTime, Expr::value(now()))
            .filter(accounts::Column::Id.eq(id));
        for (column, value) in columns {
            update = update.col_expr(column, value);
        }
        if let Some(revision) = expected_revision {
            update = update.filter(accounts::Column::Revision.eq(revision));
        }
        let updated = update.exec(&txn).await?.rows_affected;
        let row = accounts::Entity::find_by_id(id).one(&txn).await?;
        let row = revised(updated, row, || not_found(id))?;
        if let Some(entitled) = entitled {
            account_api_sets::Entity::delete_many()
                .filter(account_api_sets::Column::AccountId.eq(id))
                .exec(&txn)
                .await?;
            insert_entitlements(&txn, id, &sorted_unique(&entitled)).await?;
        }
        let account = with_entitlements(&txn, row).await?;
        changes::record(&txn, [account_changed(id)]).await?;
        txn.commit().await?;
        self.after_commit().await;
        Ok(account)
    }
}

async fn insert_account(
    db: &impl ConnectionTrait,
    new: NewAccount,
    now: DateTime<Utc>,
) -> Result<Account, StoreError> {
    let row = accounts::Model {
        id: new.id,
        display_name: new.display_name,
        client_id_prefix: new.client_id_prefix,
        verified: new.verified,
        operator: new.operator,
        revision: 1,
        create_time: now,
        update_time: now,
    };
    accounts::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    let entitled = sorted_unique(&new.entitled_api_set_ids);
    insert_entitlements(db, &row.id, &entitled).await?;
    Ok(account(row, entitled))
}

/// Entitles an account to `ids` (sorted, unique), each of which must exist.
async fn insert_entitlements(
    db: &impl ConnectionTrait,
    account_id: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    api_sets::require_api_sets(db, ids).await?;
    account_api_sets::Entity::insert_many(ids.iter().map(|api_set_id| {
        account_api_sets::Model {
            account_id: account_id.to_owned(),
            api_set_id: api_set_id.clone(),
        }
        .into_active_model()
    }))
    .exec_without_returning(db)
    .await
    .map_err(on_foreign_key("api set", || {
        "an api set was deleted meanwhile".to_owned()
    }))?;
    Ok(())
}

/// The entitlements of each of `account_ids` (accounts without any are absent), sorted.
pub(crate) async fn entitlements_of(
    db: &impl ConnectionTrait,
    account_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    if account_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = account_api_sets::Entity::find()
        .filter(account_api_sets::Column::AccountId.is_in(account_ids.iter().cloned()))
        .order_by_asc(account_api_sets::Column::ApiSetId)
        .all(db)
        .await?;
    let mut entitled: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        entitled
            .entry(row.account_id)
            .or_default()
            .push(row.api_set_id);
    }
    Ok(entitled)
}

/// The account of `row`, with its entitlements read from `db`.
pub(crate) async fn with_entitlements(
    db: &impl ConnectionTrait,
    row: accounts::Model,
) -> Result<Account, StoreError> {
    let entitled = entitlements_of(db, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(account(row, entitled))
}

/// The change-log entry of an account.
fn account_changed(account_id: &str) -> Changed {
    Changed::Account {
        account_id: account_id.to_owned(),
    }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        entity: ENTITY,
        id: id.to_owned(),
    }
}

fn account(row: accounts::Model, entitled_api_set_ids: Vec<String>) -> Account {
    Account {
        id: row.id,
        display_name: row.display_name,
        client_id_prefix: row.client_id_prefix,
        verified: row.verified,
        operator: row.operator,
        entitled_api_set_ids,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    }
}
