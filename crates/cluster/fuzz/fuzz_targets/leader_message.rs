//! Fuzz what a worker does with the leader's bytes: protobuf decoding of a
//! `LeaderMessage`, then `wire::check_leader_message` for a claim chosen by the first
//! bytes. Never a panic; an accepted Assign is about this claim and within its queue.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use snapstate_cluster::proto::{leader_message::Body, LeaderMessage};
use snapstate_cluster::wire::{check_leader_message, Outbound};

fuzz_target!(|data: &[u8]| {
    let [n, e, l, rest @ ..] = data else { return };
    let (node, epoch, leader_epoch) = (usize::from(*n), i64::from(*e), i64::from(*l));
    let Ok(msg) = LeaderMessage::decode(rest) else { return };
    let raw = msg.clone();
    match check_leader_message(msg, node, epoch, leader_epoch) {
        Ok(Outbound::Assign { position, queue_len }) => {
            assert!(position <= queue_len);
            let Some(Body::Assign(a)) = raw.body else { panic!("not an Assign") };
            assert!(a.node == node as u64 && a.epoch == epoch && a.leader_epoch == leader_epoch);
        }
        Ok(Outbound::Committed { .. }) => {
            let Some(Body::Committed(c)) = raw.body else { panic!("not a Committed") };
            assert_eq!(c.node, node as u64);
        }
        Ok(Outbound::Fenced(reason)) => assert!(reason.len() <= 256),
        Err(_) => {}
    }
});
