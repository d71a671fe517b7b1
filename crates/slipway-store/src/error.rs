use slipway_core::ErrorCode;

/// What can go wrong in the store. `Conflict` and `NotFound` carry the API
/// error code the caller should answer with; the rest are the server's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request clashes with stored state: a slug or hostname is taken,
    /// the last owner would go, a status change lost a race.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// No such object in this scope (which includes "another tenant's").
    #[error("{message}")]
    NotFound { code: ErrorCode, message: String },
    /// Credentials or a token did not check out.
    #[error("authentication failed ({0})")]
    Unauthenticated(ErrorCode),
    /// A setting such as the database URL or the sealing key is wrong.
    #[error("{0}")]
    Config(String),
    /// The database did not answer at start-up.
    #[error("cannot reach the database at {target}: {source}. Check that the server runs and the URL is right")]
    Unreachable {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    /// A stored value does not decode (a bad row, or the wrong sealing key).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The database cannot be reached now (no free connection in time, the pool is closed, the
    /// connection broke): a retry later may succeed.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => Self::Unavailable(err),
            other => Self::Database(other),
        }
    }
}

impl StoreError {
    pub(crate) fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    pub(crate) fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::NotFound { code, message: message.into() }
    }

    /// The URL without its password, for messages. The query goes too: it
    /// can carry one as well (`?password=…`).
    pub(crate) fn unreachable(url: &str, source: sqlx::Error) -> Self {
        Self::Unreachable { target: slipway_core::redact::redact_url(url), source }
    }

    /// Whether the database rejected a duplicate key.
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}

/// Maps a unique-key violation of one statement to a conflict with `code`.
pub(crate) fn on_duplicate(code: ErrorCode, message: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| {
        if StoreError::is_unique_violation(&err) {
            StoreError::conflict(code, message)
        } else {
            StoreError::from(err)
        }
    }
}

/// Decodes a stored column into a core type, reporting a bad row as `Corrupt`.
pub(crate) fn stored<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|err| StoreError::Corrupt(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_and_a_failing_query_is_not() {
        let unavailable =
            [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed, sqlx::Error::Io(std::io::Error::other("reset"))];
        for err in unavailable {
            assert!(matches!(StoreError::from(err), StoreError::Unavailable(_)));
        }
        assert!(matches!(StoreError::from(sqlx::Error::RowNotFound), StoreError::Database(_)));
    }
}
