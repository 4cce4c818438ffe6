//! Fuzz the checkpoint decoder: any bytes must give `Ok` or a typed error, never a
//! panic, and whatever decodes must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapstate::checkpoint;

fuzz_target!(|bytes: &[u8]| {
    if let Ok((values, snap)) = checkpoint::decode_u64(bytes) {
        assert_eq!(checkpoint::encode_u64(&values, snap), bytes);
    }
    if let Ok((values, snap)) = checkpoint::decode_serde::<String>(bytes) {
        let again = checkpoint::encode_serde(&values, snap).unwrap();
        assert_eq!(checkpoint::decode_serde::<String>(&again).unwrap().0, values);
    }
});
