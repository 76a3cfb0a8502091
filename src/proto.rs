//! Code generated from `proto/tokenauthority/v1/token_authority.proto`.

#![allow(clippy::all, missing_docs)]

/// The `tokenauthority.v1` package: messages, the server trait and the client.
pub mod v1 {
    tonic::include_proto!("tokenauthority.v1");
}

/// The encoded file descriptor set of the public protos, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("token_authority_descriptor");
