//! Fuzz the decoders of what a process reads from etcd and the store: the job spec, the
//! checkpoint pointer, a claim's holder, and a store segment (its CRC made to match, so
//! the fuzzer reaches the body). Never a panic; what parses is within its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapstate_cluster::{
    decode_segment, is_store_file_name, ClaimHolder, JobSpec, Plan, Pointer, MAX_SPEC_BYTES,
};

fuzz_target!(|data: &[u8]| {
    let [n, s, rest @ ..] = data else { return };
    if let Ok(spec) = JobSpec::parse(rest) {
        assert!(rest.len() <= MAX_SPEC_BYTES);
        assert!(spec.plan.nodes >= 1 && spec.plan.nodes <= Plan::MAX_NODES);
        assert!(spec.plan.subtasks <= Plan::MAX_SUBTASKS);
        let _ = spec.check_build();
    }
    let plan = Plan::new(usize::from(*n % 16) + 1, usize::from(*s)).expect("a valid plan");
    if let Ok(p) = Pointer::parse(rest, plan) {
        assert_eq!(p.progress.len(), plan.nodes);
        for (node, done) in p.progress.iter().enumerate() {
            assert!(*done <= plan.queue_len(node) as u64);
        }
        assert!(p.segments.iter().chain([&p.progress_file]).all(|f| is_store_file_name(f)));
    }
    if let Some(h) = ClaimHolder::parse(rest) {
        assert!(h.worker.len() <= 256);
    }
    let mut seg = rest.to_vec();
    seg.extend_from_slice(&crc32c::crc32c(rest).to_le_bytes());
    if let Ok(entries) = decode_segment(&seg, plan.subtasks, 4096) {
        for (k, out) in entries {
            assert!(k < plan.subtasks && out.len() <= 4096);
        }
    }
});
