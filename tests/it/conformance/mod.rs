//! Behaviour tests through the gRPC API. Each test is written once with `conformance_test!` and
//! runs against the in-memory store (`memory`) and a private Redis (`redis`).

mod bad_input;
mod check_rate_limit;
mod keys;
mod listing;
mod manage;
mod rate_limits;
mod regenerate;
mod scopes;
mod secrets;
mod status;
