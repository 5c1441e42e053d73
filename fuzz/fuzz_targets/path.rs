//! Path normalisation: a path read as plain (the only kind that may be public) is
//! already in its one reading, and reading it again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::outpost::path::{PathForm, RequestPath};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let read = RequestPath::read(raw);
    if let Some(plain) = read.plain() {
        for bad in [
            "//", "/./", "/../", "\\", ";", "%2f", "%2F", "%5c", "%5C", "%00", "%25",
        ] {
            assert!(
                !plain.contains(bad),
                "plain path {plain:?} holds {bad:?} (from {raw:?})"
            );
        }
        assert!(
            !plain.ends_with("/.") && !plain.ends_with("/.."),
            "{plain:?}"
        );
        let again = RequestPath::read(plain);
        assert_eq!(again.form, PathForm::Plain, "{plain:?}");
        assert_eq!(again.resolved, plain, "not idempotent from {raw:?}");
    }
    // Whatever the form, the route path starts at the root or is the raw text.
    assert!(read.resolved.starts_with('/') || read.form == PathForm::Unreadable);
});
