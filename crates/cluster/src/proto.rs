//! The code tonic-prost-build generates from `proto/worker.proto`: the messages (feature
//! `wire`), and the `Leader` service's client and server (feature `distributed`).

// Generated code: its items carry the .proto comments as docs, not our lint's shape.
#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/snapstate.cluster.v1.rs"));
