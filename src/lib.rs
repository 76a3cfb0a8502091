//! token-authority decides, for each request an ingestion frontend receives, whether the project
//! access token it carries may perform the requested action, and manages those tokens.
//!
//! # Layout
//! - [`domain`]: scopes, actions, keys, token status, rate-limit windows and the order of the
//!   checks. Pure code with no I/O.
//! - [`store`]: the [`store::Store`] trait and its two implementations: Redis, with one Lua
//!   script per operation, and in-memory, for development and single-process use.
//! - [`service`]: the operations independent of the transport: key handling, plan checks,
//!   project creation and regeneration.
//! - [`deny_cache`]: a replica's memory of tokens over a rate limit, which denies a flood from
//!   such a token without Redis until its window resets.
//! - [`grpc`]: the `tokenauthority.v1.TokenAuthority` service: field validation, proto
//!   conversions, and the one mapping from errors to gRPC status codes.
//! - [`server`]: serving with health and reflection, readiness tracking, and draining.
//! - [`config`], [`logging`], [`shutdown`]: options, structured logs, and signals.
//! - [`telemetry`]: OpenTelemetry traces and metrics, their OTLP and Prometheus exporters, and
//!   the summarizing of repeated errors.
//! - [`proto`]: code generated from `proto/tokenauthority/v1/token_authority.proto`.
//!
//! # Glossary
//! - **Account**: owns projects and has a plan, free or paid.
//! - **Project**: owns access tokens.
//! - **Key**: the secret an end user presents (32 lowercase hexadecimal characters). Only its
//!   SHA-256 hash is stored.
//! - **Token**: a key plus settings: a non-secret id, a name, scopes, a status, and an optional
//!   user-defined rate limit.
//! - **System limit**: the rate limit every token has (50,000 requests per 60 s by default).
//! - **User-defined limit**: a token's own limit, enforced while its account is on the paid plan.
//! - **Window**: a fixed rate-limit window that starts at the first counted request.
//!
//! # Guarantees
//! - Authorize runs its checks and both rate limits in one atomic step: with Redis, one script
//!   in one round trip, so any number of replicas share one budget and never admit more than
//!   the limit. A request denied by either limit counts against neither.
//! - When Redis fails or is slow, calls fail with UNAVAILABLE within the Redis command timeout
//!   and the caller's deadline; no decision is guessed.
//! - No key, Redis password or other secret reaches a log, a trace or a `Debug` output.

pub mod config;
pub mod deny_cache;
pub mod domain;
pub mod grpc;
pub mod logging;
pub mod proto;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod store;
pub mod telemetry;
#[doc(hidden)]
pub mod testing;
