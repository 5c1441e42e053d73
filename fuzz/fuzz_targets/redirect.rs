//! Redirect validation: `rd` parsed as a browser would (WHATWG), scheme/host/port
//! compared with the allow-list. A target it accepts must be on the allow-list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::outpost::redirect::check_redirect;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(rd) = std::str::from_utf8(data) else {
        return;
    };
    let base = Url::parse("https://app.example.com/").expect("base");
    let allowed = ["app.example.com".to_string(), ".corp.example".to_string()];
    if let Ok(url) = check_redirect(rd, &base, &allowed) {
        let host = url.host_str().unwrap_or_default();
        assert!(
            url.scheme() == "https" || url.scheme() == "http",
            "accepted scheme {url}"
        );
        assert!(
            host == "app.example.com" || host == "corp.example" || host.ends_with(".corp.example"),
            "accepted a host off the allow-list: {url} from {rd:?}"
        );
    }
});
