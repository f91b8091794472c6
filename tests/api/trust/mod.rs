//! Trust boundaries (DESIGN.md "Trust boundaries"): what one team, one IdP or an anonymous
//! visitor must not be able to do to the others.

mod idp_load;
mod tenant_idp;
