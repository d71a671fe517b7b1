//! Workspaces (tenants) and their members.

use slipway_core::api::{Member, User, Workspace};
use slipway_core::ids::{UserId, WorkspaceId};
use slipway_core::names::{Username, WorkspaceSlug};
use slipway_core::role::{Permission, Role};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::error::{on_duplicate, stored};
use crate::page::{Order, PageRequest, Paged};
use crate::scope::{Scope, Tx};
use crate::{Store, StoreError};

/// A user's standing in one workspace: what they may see and do there.
#[derive(Debug, Clone)]
pub struct Access {
    pub workspace: Workspace,
    /// The role that decides permissions: the membership's, or `owner` for a
    /// platform admin who is not a member.
    pub role: Role,
}

impl Access {
    pub fn allows(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    pub fn id(&self) -> &WorkspaceId {
        &self.workspace.id
    }
}

fn role_from(text: &str) -> Result<Role, StoreError> {
    stored(Role::parse(text))
}

fn workspace_from(row: &AnyRow) -> Result<Workspace, StoreError> {
    let role: Option<String> = row.try_get("role")?;
    Ok(Workspace {
        id: stored(WorkspaceId::parse(&row.try_get::<String, _>("id")?))?,
        slug: stored(WorkspaceSlug::parse(&row.try_get::<String, _>("slug")?))?,
        name: row.try_get("name")?,
        role: role.as_deref().map(role_from).transpose()?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn member_from(row: &AnyRow) -> Result<Member, StoreError> {
    Ok(Member {
        user_id: stored(UserId::parse(&row.try_get::<String, _>("user_id")?))?,
        username: stored(Username::parse(&row.try_get::<String, _>("username")?))?,
        role: role_from(&row.try_get::<String, _>("role")?)?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn member_not_found(username: &Username) -> StoreError {
    StoreError::not_found(ErrorCode::MemberNotFound, format!("`{username}` is not a member of this workspace"))
}

/// Refuses a change that would leave the workspace without an owner.
async fn keep_an_owner(tx: &mut Tx, workspace: &WorkspaceId, leaving: &UserId) -> Result<(), StoreError> {
    // Owner changes of one workspace take turns: on PostgreSQL this row lock
    // makes a concurrent demotion wait, then count again, so two owners
    // demoting each other cannot both succeed (SQLite's write lock already
    // serialises them).
    sqlx::query("UPDATE workspaces SET name = name WHERE id = $1").bind(workspace.as_str()).execute(&mut **tx).await?;
    let others: i64 =
        sqlx::query("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner' AND user_id <> $2")
            .bind(workspace.as_str())
            .bind(leaving.as_str())
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
    if others == 0 {
        return Err(StoreError::conflict(
            ErrorCode::LastOwner,
            "a workspace must keep at least one owner; make someone else owner first",
        ));
    }
    Ok(())
}

impl Store {
    /// Creates a workspace with `owner` as its first owner.
    pub async fn create_workspace(
        &self,
        actor: &Actor,
        owner: &UserId,
        slug: &WorkspaceSlug,
        name: &str,
    ) -> Result<Workspace, StoreError> {
        let workspace = Workspace {
            id: WorkspaceId::generate(),
            slug: slug.clone(),
            name: name.to_owned(),
            role: Some(Role::Owner),
            created_at: Timestamp::now(),
        };
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        sqlx::query("INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace.id.as_str())
            .bind(slug.as_str())
            .bind(name)
            .bind(workspace.created_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(on_duplicate(ErrorCode::WorkspaceExists, format!("workspace `{slug}` already exists")))?;
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
            .bind(workspace.id.as_str())
            .bind(owner.as_str())
            .bind(workspace.created_at.as_millis())
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, Some(&workspace.id), actor, "workspace.create", &format!("workspace/{slug}")).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    /// Resolves a workspace slug for `user`. A workspace the user may not
    /// see answers exactly like one that does not exist.
    pub async fn access(&self, slug: &WorkspaceSlug, user: &User) -> Result<Access, StoreError> {
        let not_found = || StoreError::not_found(ErrorCode::WorkspaceNotFound, format!("no workspace `{slug}`"));
        // Platform scope: the tenant is what is being looked up.
        let mut tx = self.read(Scope::Platform).await?;
        let row = sqlx::query(
            "SELECT w.*, m.role FROM workspaces w
             LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2
             WHERE w.slug = $1",
        )
        .bind(slug.as_str())
        .bind(user.id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let workspace = workspace_from(&row.ok_or_else(not_found)?)?;
        let role = match (workspace.role, user.is_admin) {
            (Some(role), _) => role,
            (None, true) => Role::Owner,
            (None, false) => return Err(not_found()),
        };
        Ok(Access { workspace, role })
    }

    /// The workspaces `user` belongs to (every workspace for a platform admin).
    pub async fn list_workspaces(&self, user: &User, page: &PageRequest) -> Result<Paged<Workspace>, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let (cmp, dir) = Order::OldestFirst.sql();
        let join = if user.is_admin { "LEFT JOIN" } else { "JOIN" };
        let rows = sqlx::query(&format!(
            "SELECT w.*, m.role FROM workspaces w
             {join} memberships m ON m.workspace_id = w.id AND m.user_id = $1
             WHERE ($2 IS NULL OR w.id {cmp} $2) ORDER BY w.id {dir} LIMIT $3"
        ))
        .bind(user.id.as_str())
        .bind(page.bound())
        .bind(page.fetch())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let items = rows.iter().map(workspace_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(items, page, |w| w.id.to_string()))
    }

    /// Deletes a workspace and everything in it. Its audit trail stays.
    pub async fn delete_workspace(&self, actor: &Actor, workspace: &Workspace) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        sqlx::query("DELETE FROM workspaces WHERE id = $1").bind(workspace.id.as_str()).execute(&mut *tx).await?;
        audit::record(
            &mut tx,
            Some(&workspace.id),
            actor,
            "workspace.delete",
            &format!("workspace/{}", workspace.slug),
        )
        .await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(())
    }

    pub async fn list_members(&self, workspace: &WorkspaceId) -> Result<Vec<Member>, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let rows = sqlx::query(
            "SELECT m.user_id, u.username, m.role, m.created_at FROM memberships m
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY u.username",
        )
        .bind(workspace.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(member_from).collect()
    }

    pub async fn add_member(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        user: &User,
        role: Role,
    ) -> Result<Member, StoreError> {
        let member =
            Member { user_id: user.id.clone(), username: user.username.clone(), role, created_at: Timestamp::now() };
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace.as_str())
            .bind(user.id.as_str())
            .bind(role.as_str())
            .bind(member.created_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(on_duplicate(ErrorCode::MemberExists, format!("`{}` is already a member", user.username)))?;
        audit::record(&mut tx, Some(workspace), actor, "member.add", &format!("member/{}:{role}", user.username))
            .await?;
        tx.commit().await?;
        Ok(member)
    }

    pub async fn member(&self, workspace: &WorkspaceId, username: &Username) -> Result<Member, StoreError> {
        let mut tx = self.read(Scope::Tenant(workspace)).await?;
        let row = sqlx::query(
            "SELECT m.user_id, u.username, m.role, m.created_at FROM memberships m
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND u.username = $2",
        )
        .bind(workspace.as_str())
        .bind(username.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        member_from(&row.ok_or_else(|| member_not_found(username))?)
    }

    pub async fn change_member_role(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        member: &Member,
        role: Role,
    ) -> Result<Member, StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        if member.role == Role::Owner && role != Role::Owner {
            keep_an_owner(&mut tx, workspace, &member.user_id).await?;
        }
        let changed = sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(workspace.as_str())
            .bind(member.user_id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(member_not_found(&member.username));
        }
        audit::record(&mut tx, Some(workspace), actor, "member.role", &format!("member/{}:{role}", member.username))
            .await?;
        tx.commit().await?;
        Ok(Member { role, ..member.clone() })
    }

    pub async fn remove_member(
        &self,
        actor: &Actor,
        workspace: &WorkspaceId,
        member: &Member,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(Scope::Tenant(workspace)).await?;
        if member.role == Role::Owner {
            keep_an_owner(&mut tx, workspace, &member.user_id).await?;
        }
        let removed = sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace.as_str())
            .bind(member.user_id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(member_not_found(&member.username));
        }
        audit::record(&mut tx, Some(workspace), actor, "member.remove", &format!("member/{}", member.username)).await?;
        tx.commit().await?;
        Ok(())
    }
}
