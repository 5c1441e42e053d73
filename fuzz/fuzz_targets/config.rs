//! The compiled configuration file (`--config`): YAML parse and validation never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::config::OutpostConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = OutpostConfig::from_yaml(text, "fuzz");
    }
});
