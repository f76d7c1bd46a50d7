//! Values that come from outside, validated when built: once a handler holds an
//! `Email` or a `Password`, it is known to be acceptable.

pub mod display_name;
pub mod email;
pub mod password;
pub mod roadmap;
pub mod tier;

pub use display_name::DisplayName;
pub use email::Email;
pub use password::Password;
pub use tier::Tier;
