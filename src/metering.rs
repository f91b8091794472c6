//! Former home of the meter and the verification index, now in [`crate::tokens`]; these
//! names stay for callers written against it.

pub use crate::tokens::flush::{spawn_flusher, FLUSH_INTERVAL, INDEX_POLL};
pub use crate::tokens::index::{Indexed, TokenIndex};
pub use crate::tokens::meter::{day_of, day_string, today, Meter};
