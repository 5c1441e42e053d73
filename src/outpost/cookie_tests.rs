//! Tests of [`super`]: names, attributes, chunking and reading.

use super::*;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn names_get_the_right_prefix() {
    let host = CookieSpec::new("portcullis", None, true).unwrap();
    assert_eq!(host.name(), "__Host-portcullis");
    let secure = CookieSpec::new("portcullis", Some(".Example.com"), true).unwrap();
    assert_eq!(secure.name(), "__Secure-portcullis");
    assert_eq!(secure.domain(), Some("example.com"));
    let dev = CookieSpec::new("portcullis", None, false).unwrap();
    assert_eq!(dev.name(), "portcullis");
    assert!(!dev.secure());
    let already = CookieSpec::new("__Host-x", Some("example.com"), true).unwrap();
    assert_eq!(
        already.name(),
        "__Secure-x",
        "a configured prefix is replaced, not doubled"
    );
}

#[test]
fn bad_names_and_domains_are_refused() {
    for name in ["", "a b", "a;b", "a=b", "a\nb", "__Host-", "ä"] {
        assert_eq!(
            CookieSpec::new(name, None, true),
            Err(SessionError::CookieConfig),
            "{name:?}"
        );
    }
    for domain in ["", ".", "a b.com", "a;b.com", "x\r\n.com"] {
        assert_eq!(
            CookieSpec::new("s", Some(domain), true),
            Err(SessionError::CookieConfig),
            "{domain:?}"
        );
    }
}

#[test]
fn attributes_follow_the_scheme() {
    let host = CookieSpec::new("s", None, true).unwrap();
    let set = host.set_cookies("v", 60, &[]).unwrap();
    assert_eq!(
        set,
        vec!["__Host-s=v; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax"]
    );
    let dom = CookieSpec::new("s", Some("example.com"), true).unwrap();
    assert_eq!(
        dom.set_cookies("v", 5, &[]).unwrap(),
        vec!["__Secure-s=v; Path=/; Domain=example.com; Max-Age=5; Secure; HttpOnly; SameSite=Lax"]
    );
    let dev = CookieSpec::new("s", None, false).unwrap();
    let set = dev.set_cookies("v", 5, &[]).unwrap();
    assert!(!set[0].contains("Secure"), "{}", set[0]);
}

#[test]
fn large_values_are_chunked_and_reassembled() {
    let spec = CookieSpec::new("portcullis", Some("example.com"), true).unwrap();
    let value: String = (0..10_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let set = spec.set_cookies(&value, 3600, &[]).unwrap();
    assert_eq!(set.len(), 3);
    for (i, c) in set.iter().enumerate() {
        assert!(
            c.len() < MAX_SET_COOKIE_LEN,
            "chunk {i} is {} bytes",
            c.len()
        );
        assert!(c.starts_with(&format!("__Secure-portcullis_{i}=")), "{c}");
        assert!(c.ends_with(
            "; Path=/; Domain=example.com; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"
        ));
    }
    // What a browser sends back: name=value pairs, in any order, across headers.
    let pairs: Vec<String> = set
        .iter()
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect();
    let h1 = format!("other=1; {}; {}", pairs[2], pairs[0]);
    let h2 = pairs[1].clone();
    let found = spec.find(&[&h1, &h2]);
    assert_eq!(found.candidates, vec![value.clone()]);
    assert_eq!(found.present.len(), 3);
}

#[test]
fn value_exactly_at_the_limit_is_split() {
    let spec = CookieSpec::new("s", None, true).unwrap();
    let overhead = spec.set_cookies("", 10, &[]).unwrap()[0].len();
    let fits = "x".repeat(MAX_SET_COOKIE_LEN - 1 - overhead);
    assert_eq!(spec.set_cookies(&fits, 10, &[]).unwrap().len(), 1);
    let too_big = format!("{fits}x");
    let set = spec.set_cookies(&too_big, 10, &[]).unwrap();
    assert_eq!(set.len(), 2);
    assert!(set.iter().all(|c| c.len() < MAX_SET_COOKIE_LEN));
}

#[test]
fn oversized_values_are_refused() {
    let spec = CookieSpec::new("s", None, true).unwrap();
    let huge = "x".repeat(MAX_CHUNKS * MAX_SET_COOKIE_LEN);
    assert_eq!(
        spec.set_cookies(&huge, 10, &[]),
        Err(SessionError::TooLarge)
    );
}

#[test]
fn stale_cookies_are_expired_when_rewriting() {
    let spec = CookieSpec::new("s", None, true).unwrap();
    let present = strings(&["__Host-s_0", "__Host-s_1"]);
    let set = spec.set_cookies("small", 10, &present).unwrap();
    assert_eq!(set.len(), 3);
    assert!(set[0].starts_with("__Host-s=small;"));
    for (c, name) in set[1..].iter().zip(&present) {
        assert!(c.starts_with(&format!("{name}=;")), "{c}");
        assert!(c.contains("Max-Age=0") && c.contains("Expires=Thu, 01 Jan 1970"));
    }
    // Rewriting chunked over an unsplit cookie expires the unsplit one.
    let big = "y".repeat(5000);
    let set = spec.set_cookies(&big, 10, &strings(&["__Host-s"])).unwrap();
    assert_eq!(set.len(), 3);
    assert!(set[2].starts_with("__Host-s=; Path=/; Max-Age=0"));
}

#[test]
fn clear_expires_base_and_every_present_chunk() {
    let spec = CookieSpec::new("s", Some("example.com"), true).unwrap();
    let found = spec.find(&["__Secure-s_0=a; __Secure-s_1=b; __Secure-s_7=z; x=1"]);
    let cleared = spec.clear_cookies(&found.present);
    let names: Vec<&str> = cleared
        .iter()
        .map(|c| c.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["__Secure-s", "__Secure-s_0", "__Secure-s_1", "__Secure-s_7"]
    );
    assert!(
        cleared
            .iter()
            .all(|c| c.contains("Domain=example.com") && c.contains("Max-Age=0"))
    );
}

#[test]
fn find_tolerates_odd_headers() {
    let spec = CookieSpec::new("s", None, false).unwrap();
    assert_eq!(spec.find(&[]), FoundCookie::default());
    assert_eq!(
        spec.find(&[";;;", "garbage", "=x", "s_=1; s_01=2; s_x=3; s_999=4; ss=5"])
            .candidates,
        Vec::<String>::new()
    );
    let both = spec.find(&["s=\"one\"; s=two; s_0=a; s_1=b; s_3=d"]);
    // Unsplit values first (both duplicates), then chunks 0..1 (3 is unreachable).
    assert_eq!(both.candidates, strings(&["one", "two", "ab"]));
    assert_eq!(both.present, strings(&["s", "s_0", "s_1", "s_3"]));
    assert!(both.duplicated);
    // One value, however often it comes, is not ambiguous; one chunk twice with two
    // values is.
    assert!(!spec.find(&["s=one; s=one", "s=one"]).duplicated);
    assert!(!spec.find(&["s_0=a; s_1=b; s_0=a"]).duplicated);
    assert!(spec.find(&["s_0=a; s_1=b; s_0=z"]).duplicated);
}

#[test]
fn derived_state_cookies_are_host_only() {
    let spec = CookieSpec::new("s", Some("example.com"), true).unwrap();
    let state = spec.derived("_csrf_abcdefgh").unwrap();
    assert_eq!(state.name(), "__Secure-s_csrf_abcdefgh");
    assert_eq!(state.domain(), None);
    assert!(state.secure());
    assert_eq!(spec.derived("a;b"), Err(SessionError::Invalid));
}

#[test]
fn expire_everywhere_covers_host_only_and_each_parent_domain() {
    let spec = CookieSpec::new("s", None, false).unwrap();
    let out = spec.expire_everywhere("a.b.example.com:8080", &strings(&["s", "s_0"]));
    for name in ["s", "s_0"] {
        for scope in [
            "",
            "; Domain=a.b.example.com",
            "; Domain=b.example.com",
            "; Domain=example.com",
        ] {
            let want = format!("{name}=; Path=/{scope}; Max-Age=0");
            assert!(
                out.iter().any(|c| c.starts_with(&want)),
                "{want} in {out:?}"
            );
        }
    }
    assert!(!out.iter().any(|c| c.contains("Domain=com;")), "{out:?}");
    // IP literals and __Host- cookies have no domain copies.
    assert_eq!(spec.expire_everywhere("127.0.0.1:80", &[]).len(), 1);
    assert_eq!(spec.expire_everywhere("[::1]:80", &[]).len(), 1);
    let host = CookieSpec::new("s", None, true).unwrap();
    assert_eq!(host.expire_everywhere("app.example.com", &[]).len(), 1);
}

#[test]
fn a_companion_cookie_keeps_the_scope_but_narrows_the_path() {
    // `__Host-` cookies must have Path=/: a narrower companion becomes `__Secure-`,
    // still Secure and host-only (no Domain).
    let host = CookieSpec::new("s", None, true).unwrap();
    let hint = host.companion("_idt", "/oauth2/sign_out").unwrap();
    assert_eq!(hint.name(), "__Secure-s_idt");
    assert_eq!(hint.domain(), None);
    let set = hint.set_cookies("v", 60, &[]).unwrap();
    assert_eq!(
        set,
        vec!["__Secure-s_idt=v; Path=/oauth2/sign_out; Max-Age=60; Secure; HttpOnly; SameSite=Lax"]
    );
    // An expiry names the same path, or the browser would keep the cookie.
    assert!(
        hint.clear_cookies(&[])[0].starts_with("__Secure-s_idt=; Path=/oauth2/sign_out; Max-Age=0")
    );
    // With a Domain: the same Domain; on http: no prefix and no Secure.
    let wide = CookieSpec::new("s", Some("example.com"), true).unwrap();
    let hint = wide.companion("_idt", "/oauth2/sign_out").unwrap();
    assert_eq!(hint.name(), "__Secure-s_idt");
    assert_eq!(hint.domain(), Some("example.com"));
    let plain = CookieSpec::new("s", None, false).unwrap();
    let hint = plain.companion("_idt", "/oauth2/sign_out").unwrap();
    assert_eq!(hint.name(), "s_idt");
    assert!(!hint.secure());
    assert!(!hint.set_cookies("v", 1, &[]).unwrap()[0].contains("Secure"));
    // A companion at Path=/ of a __Host- cookie keeps the prefix.
    assert_eq!(host.companion("_x", "/").unwrap().name(), "__Host-s_x");
    assert_eq!(host.companion("a;b", "/x"), Err(SessionError::Invalid));
    assert_eq!(host.companion("_x", "x"), Err(SessionError::Invalid));
}
