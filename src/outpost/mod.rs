//! The pure, I/O-free pieces of the forward-auth outpost: redirect-target checks,
//! encrypted cookie sessions, authorization policy, identity headers, the
//! denied page and working out the original request behind a proxy.
//!
//! The HTTP handlers call these; nothing here reads a clock, the network or the disk, so
//! every decision can be unit-tested with plain values.

mod args;
pub mod cookie;
pub mod denied_page;
pub mod forwarded;
pub mod identity_headers;
pub mod path;
pub mod policy;
pub mod redirect;
pub mod server;
pub mod session;
pub mod session_error;
pub mod sessions_page;
pub mod subject;

pub use args::{DEFAULT_ADMIN_LISTEN, OutpostArgs};
pub use subject::Subject;
