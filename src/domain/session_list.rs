//! A signed-in user's sessions as the sessions page lists them: plain values the store fills
//! and the view reads.

/// One of a user's live sessions, as the sessions page lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub public_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub address: String,
    pub browser: String,
    /// The session this request came with.
    pub current: bool,
}
