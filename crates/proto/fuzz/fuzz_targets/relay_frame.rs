#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = weft_proto::RelayFrame::decode(data) {
        assert_eq!(f.encode(), data);
    }
});
