//! Keyset pagination. IDs are UUIDv7, so ordering by ID is ordering by
//! creation time, and "after this ID" is a stable cursor even while rows are
//! added.

/// Which page to read: up to `limit` rows after the row with ID `after`.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

impl Order {
    /// The SQL comparison and direction for an `id` column.
    pub(crate) fn sql(self) -> (&'static str, &'static str) {
        match self {
            Order::OldestFirst => (">", "ASC"),
            Order::NewestFirst => ("<", "DESC"),
        }
    }
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 200;

    /// The cursor to compare IDs with, `None` on the first page. Queries
    /// write `($2 IS NULL OR id > $2)` instead of comparing with a sentinel
    /// such as `~`: where text sorts by locale (ICU, `en_US`) rather than
    /// byte by byte, `~` sorts before letters, and no sentinel is safe.
    pub(crate) fn bound(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// Rows to fetch: one more than the page, to learn whether more follow.
    pub(crate) fn fetch(&self) -> i64 {
        i64::from(self.limit.clamp(1, Self::MAX_LIMIT)) + 1
    }
}

/// One page of results; `next` is the ID to pass as `after` for the next one.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Paged<T> {
    pub(crate) fn from_rows(mut rows: Vec<T>, request: &PageRequest, id: impl Fn(&T) -> String) -> Self {
        let limit = request.limit.clamp(1, PageRequest::MAX_LIMIT) as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(id)
        } else {
            None
        };
        Self { items: rows, next }
    }
}
