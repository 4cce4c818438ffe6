//! Fuzz what the leader does with a worker's bytes: protobuf decoding of a
//! `WorkerMessage`, then `wire::check_worker_message`. Any bytes must give a message or
//! an error, never a panic, and whatever passes the check must be within the bounds the
//! leader relies on (node in range, epochs that are revisions, sizes under the limits).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use snapstate_cluster::proto::WorkerMessage;
use snapstate_cluster::wire::{check_worker_message, Inbound};
use snapstate_cluster::Limits;

fuzz_target!(|data: &[u8]| {
    // The first three bytes choose the job: its node count and output limit.
    let [a, b, c, rest @ ..] = data else { return };
    let nodes = usize::from(u16::from_le_bytes([*a, *b]) % 1024) + 1;
    let limits = Limits::new(1u64 << (c % 27));
    let Ok(msg) = WorkerMessage::decode(rest) else { return };
    match check_worker_message(msg, nodes, limits) {
        Ok(Inbound::Hello(h)) => {
            assert!(h.node < nodes && h.epoch > 0 && h.leader_epoch > 0 && h.spec_revision > 0);
            for s in [&h.job, &h.version, &h.worker] {
                assert!(s.len() <= Limits::MAX_STRING);
            }
        }
        Ok(Inbound::Report { node, epoch, output, .. }) => {
            assert!(node < nodes && epoch > 0);
            assert!(output.len() as u64 <= limits.max_output());
        }
        Ok(Inbound::Heartbeat { node, epoch }) => assert!(node < nodes && epoch > 0),
        Err(_) => {}
    }
});
