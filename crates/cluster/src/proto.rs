//! The code tonic-prost-build generates from `proto/worker.proto` (the messages and the
//! `Leader` service's client and server).

// Generated code: its items carry the .proto comments as docs, not our lint's shape.
#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

tonic::include_proto!("snapstate.cluster.v1");
