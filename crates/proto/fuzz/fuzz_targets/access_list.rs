#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = weft_proto::AccessList::decode(data) {
        assert_eq!(l.encode(), data);
    }
});
