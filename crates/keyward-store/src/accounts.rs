//! Accounts (tenants): create, read, list, and the operator's *verified* switch.

use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    Store, StoreError,
    entity::accounts,
    model::{Account, NewAccount, Page, PageRequest},
    paging::{now, page, page_size},
};

const ENTITY: &str = "account";

impl Store {
    /// Creates an account at revision 1. [`StoreError::AlreadyExists`] names the rule
    /// ("account id" or "account client id prefix").
    pub async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        let now = now();
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
            .exec_without_returning(&self.db)
            .await?;
        Ok(row.into())
    }

    /// Reads an account.
    pub async fn get_account(&self, id: &str) -> Result<Account, StoreError> {
        accounts::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(Account::from)
            .ok_or_else(|| not_found(id))
    }

    /// Lists accounts by id, ascending.
    pub async fn list_accounts(&self, request: PageRequest) -> Result<Page<Account>, StoreError> {
        let size = page_size(request.limit);
        let mut query = accounts::Entity::find().order_by_asc(accounts::Column::Id);
        if let Some(after) = request.after {
            query = query.filter(accounts::Column::Id.gt(after));
        }
        let rows = query.limit(size + 1).all(&self.db).await?;
        Ok(page(
            rows.into_iter().map(Account::from).collect(),
            size,
            |account| account.id.clone(),
        ))
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
        let txn = self.db.begin().await?;
        let mut update = accounts::Entity::update_many()
            .col_expr(accounts::Column::Verified, Expr::value(verified))
            .col_expr(
                accounts::Column::Revision,
                Expr::col(accounts::Column::Revision).add(1),
            )
            .col_expr(accounts::Column::UpdateTime, Expr::value(now()))
            .filter(accounts::Column::Id.eq(id));
        if let Some(revision) = expected_revision {
            update = update.filter(accounts::Column::Revision.eq(revision));
        }
        let updated = update.exec(&txn).await?.rows_affected;
        let row = accounts::Entity::find_by_id(id).one(&txn).await?;
        let account = match (updated, row) {
            (_, None) => return Err(not_found(id)),
            (0, Some(_)) => return Err(StoreError::Conflict),
            (_, Some(row)) => Account::from(row),
        };
        txn.commit().await?;
        Ok(account)
    }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        entity: ENTITY,
        id: id.to_owned(),
    }
}

impl From<accounts::Model> for Account {
    fn from(row: accounts::Model) -> Self {
        Account {
            id: row.id,
            display_name: row.display_name,
            client_id_prefix: row.client_id_prefix,
            verified: row.verified,
            operator: row.operator,
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
        }
    }
}
