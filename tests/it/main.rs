//! Integration tests, in one binary so that the crate links once.
//!
//! - `admin`: the admin token of the management RPCs, in-process, with the real binary and with
//!   `tokenctl`.
//! - `conformance`: every behaviour through the gRPC API, against the in-memory store and against
//!   a real `redis-server` started for the test.
//! - `binary`: the real `token-authority` executable: start-up, health, reflection, shutdown,
//!   and two processes sharing one Redis.
//! - `tokenctl`: the real `tokenctl` executable against a server, and the README's quickstart.
//! - `deny_cache`: denials returned from the deny cache, and what drops its entries.
//! - `telemetry`: spans and metrics exported over OTLP to an in-process collector, the Prometheus
//!   endpoint, and trace ids in log lines.

mod admin;
mod binary;
mod conformance;
mod deny_cache;
mod support;
mod telemetry;
mod tokenctl;
