//! Roles: named sets of authorities in an account.

use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, TransactionTrait};

use crate::{
    Store, StoreError,
    entity::{role_authorities, roles},
    error::on_foreign_key,
    model::{NewRole, Role},
    paging::{now, sorted_unique},
};

impl Store {
    /// Creates a role and its authorities at revision 1, all or nothing.
    /// [`StoreError::AlreadyExists`] ("role id") if the account already has that role;
    /// [`StoreError::ForeignKey`] if the account does not exist.
    pub async fn create_role(&self, new: NewRole) -> Result<Role, StoreError> {
        let now = now();
        let authorities = sorted_unique(&new.authorities);
        let row = roles::Model {
            account_id: new.account_id,
            id: new.id,
            display_name: new.display_name,
            description: new.description,
            builtin: new.builtin,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        let txn = self.db.begin().await?;
        let account_id = row.account_id.clone();
        roles::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_foreign_key("account", || {
                format!("unknown account `{account_id}`")
            }))?;
        role_authorities::Entity::insert_many(authorities.iter().map(|authority| {
            role_authorities::Model {
                account_id: row.account_id.clone(),
                role_id: row.id.clone(),
                authority: authority.clone(),
            }
            .into_active_model()
        }))
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(role(row, authorities))
    }

    /// Reads a role of an account, with its authorities.
    pub async fn get_role(&self, account_id: &str, role_id: &str) -> Result<Role, StoreError> {
        let row = roles::Entity::find_by_id((account_id.to_owned(), role_id.to_owned()))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                entity: "role",
                id: role_id.to_owned(),
            })?;
        let mut authorities: Vec<String> = role_authorities::Entity::find()
            .filter(role_authorities::Column::AccountId.eq(account_id))
            .filter(role_authorities::Column::RoleId.eq(role_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| row.authority)
            .collect();
        // Sorted here, not by the database: collations differ between backends.
        authorities.sort();
        Ok(role(row, authorities))
    }
}

fn role(row: roles::Model, authorities: Vec<String>) -> Role {
    Role {
        account_id: row.account_id,
        id: row.id,
        display_name: row.display_name,
        description: row.description,
        authorities,
        builtin: row.builtin,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    }
}
