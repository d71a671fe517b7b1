//! TLS state of the routes: the per-route HTTPS-redirect flag users set, and the certificates
//! the agent obtains (ACME) and the router serves. The control plane keeps them here so that a
//! restarted agent serves the same certificates at once, without asking the CA again.
//!
//! A certificate row belongs to its route (foreign key, cascading), so removing a domain removes
//! its certificate; its private key is sealed with the row's hostname as context.

use slipway_core::api::{Environment, Workspace};
use slipway_core::ids::WorkspaceId;
use slipway_core::names::{EnvironmentName, ProjectSlug};
use slipway_core::timestamp::Timestamp;
use slipway_core::ErrorCode;
use sqlx::Row;

use crate::audit::{self, Actor};
use crate::environments::resolve_environment;
use crate::error::stored;
use crate::scope::Scope;
use crate::{Store, StoreError};

/// A routed hostname as the TLS side of the router needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRoute {
    pub hostname: String,
    /// Plain-HTTP requests for this host get a 308 to `https://`.
    pub https_redirect: bool,
    /// When the stored certificate was last written, if there is one (to reload only what changed).
    pub certificate_updated_at: Option<i64>,
}

/// A certificate as stored: PEM chain, PEM private key (unsealed), expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    pub cert_chain_pem: String,
    pub key_pem: String,
    pub not_after: Timestamp,
    pub updated_at: i64,
}

impl std::fmt::Debug for StoredCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCertificate")
            .field("not_after", &self.not_after)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

fn seal_context(hostname: &str) -> String {
    format!("certificate:{hostname}")
}

impl Store {
    /// Every routed hostname on the platform with its redirect flag and certificate stamp.
    pub async fn tls_routes(&self) -> Result<Vec<TlsRoute>, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let rows = sqlx::query(
            "SELECT r.hostname, r.https_redirect, c.updated_at FROM routes r
             LEFT JOIN certificates c ON c.hostname = r.hostname ORDER BY r.hostname",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(TlsRoute {
                    hostname: row.try_get("hostname")?,
                    https_redirect: row.try_get::<i64, _>("https_redirect")? != 0,
                    certificate_updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// The stored certificate of `hostname`, key unsealed.
    pub async fn certificate(&self, hostname: &str) -> Result<Option<StoredCertificate>, StoreError> {
        let mut tx = self.read(Scope::Platform).await?;
        let row = sqlx::query(
            "SELECT cert_chain_pem, sealed_key, not_after, updated_at FROM certificates WHERE hostname = $1",
        )
        .bind(hostname)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(StoredCertificate {
            cert_chain_pem: row.try_get("cert_chain_pem")?,
            key_pem: self.sealer.open(&seal_context(hostname), &row.try_get::<String, _>("sealed_key")?)?,
            not_after: Timestamp::from_millis(row.try_get("not_after")?),
            updated_at: row.try_get("updated_at")?,
        }))
    }

    /// Stores a certificate the agent obtained from the ACME CA for `hostname`, replacing the
    /// one before. Returns `false` (and stores nothing) if the hostname is no longer routed.
    pub async fn save_certificate(
        &self,
        actor: &Actor,
        hostname: &str,
        cert_chain_pem: &str,
        key_pem: &str,
        not_after: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write(Scope::Platform).await?;
        let owner: Option<String> = sqlx::query_scalar("SELECT workspace_id FROM routes WHERE hostname = $1")
            .bind(hostname)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(owner) = owner else { return Ok(false) };
        let workspace = stored(WorkspaceId::parse(&owner))?;
        let sealed = self.sealer.seal(&seal_context(hostname), key_pem)?;
        let now = Timestamp::now().as_millis();
        // Strictly increasing, so a reader comparing stamps sees every replacement.
        let updated_at: i64 = sqlx::query_scalar(
            "INSERT INTO certificates (hostname, workspace_id, cert_chain_pem, sealed_key, not_after, issuer, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'acme', $6)
             ON CONFLICT (hostname) DO UPDATE SET cert_chain_pem = excluded.cert_chain_pem,
                 sealed_key = excluded.sealed_key, not_after = excluded.not_after,
                 updated_at = CASE WHEN excluded.updated_at > certificates.updated_at
                                   THEN excluded.updated_at ELSE certificates.updated_at + 1 END
             RETURNING updated_at",
        )
        .bind(hostname)
        .bind(workspace.as_str())
        .bind(cert_chain_pem)
        .bind(sealed)
        .bind(not_after.as_millis())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(&mut tx, Some(&workspace), actor, "certificate.issue", hostname).await?;
        tx.commit().await?;
        tracing::debug!(hostname, updated_at, "stored a certificate");
        Ok(true)
    }

    /// Turns the HTTP→HTTPS redirect of one of an environment's hostnames on or off.
    pub async fn set_https_redirect(
        &self,
        actor: &Actor,
        workspace: &Workspace,
        project: &ProjectSlug,
        environment: &EnvironmentName,
        hostname: &str,
        on: bool,
    ) -> Result<Environment, StoreError> {
        let mut tx = self.write(Scope::Tenant(&workspace.id)).await?;
        let (project_id, environment_id) = resolve_environment(&mut tx, &workspace.id, project, environment).await?;
        let changed = sqlx::query("UPDATE routes SET https_redirect = $1 WHERE environment_id = $2 AND hostname = $3")
            .bind(i64::from(on))
            .bind(environment_id.as_str())
            .bind(hostname)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::not_found(
                ErrorCode::DomainNotFound,
                format!("{hostname} is not a hostname of {project} ({environment})"),
            ));
        }
        let action = if on { "domain.https_redirect.on" } else { "domain.https_redirect.off" };
        audit::record(
            &mut tx,
            Some(&workspace.id),
            actor,
            action,
            &format!("project/{project}/{environment}:{hostname}"),
        )
        .await?;
        let environment = self.environment_of(&mut tx, &workspace.id, &project_id, &environment_id).await?;
        tx.commit().await?;
        self.desired_changed();
        Ok(environment)
    }
}
