//! The trust boundaries of DESIGN.md, one module per area.

mod tokens;
