//! Session cookie reading: `Cookie` header parsing (names, chunks, duplicates), AEAD
//! open and the session envelope's JSON, as `SessionManager::load` does it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::config::SessionConfig;
use portcullis::outpost::session::{KeyRing, SessionManager};
use std::sync::{Arc, OnceLock};

fn manager() -> &'static SessionManager {
    static M: OnceLock<SessionManager> = OnceLock::new();
    M.get_or_init(|| {
        let keys = KeyRing::from_secrets(&["fuzz-cookie-secret-0123456789"]).expect("keys");
        SessionManager::new(Arc::new(keys), &SessionConfig::default(), true).expect("manager")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Several header lines, as a browser or proxy may send.
    let headers: Vec<&str> = text.split('\n').collect();
    let m = manager();
    let _ = m.load::<serde_json::Value>(&headers, 1_700_000_000);
    let _ = m.keys().open(m.cookie().name(), text);
    let _ = m.load_state(&headers, text, 1_700_000_000);
});
