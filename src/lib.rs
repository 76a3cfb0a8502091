//! token-authority (crate docs to come).

pub mod config;
pub mod domain;
pub mod grpc;
pub mod logging;
pub mod proto;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod store;
#[doc(hidden)]
pub mod testing;
