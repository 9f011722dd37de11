#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = weft_proto::ClientFrame::decode(data) {
        // What decodes re-encodes to the same bytes.
        assert_eq!(f.encode(), data);
    }
});
