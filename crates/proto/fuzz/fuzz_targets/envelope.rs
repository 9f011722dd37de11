#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = weft_crypto::Envelope::from_bytes(data) {
        assert_eq!(e.to_bytes(), data);
        // A random envelope never verifies.
        let _ = e.verify_signature();
    }
});
