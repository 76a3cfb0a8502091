//! token-authority (crate docs to come).

pub mod domain;
pub mod grpc;
pub mod proto;
pub mod service;
pub mod store;
#[doc(hidden)]
pub mod testing;
