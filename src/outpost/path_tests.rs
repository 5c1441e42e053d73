//! Tests of [`super`]: each ambiguity is noticed, plain paths stay plain, and the
//! resolved reading is the one nginx routes on.

use super::*;

fn form(raw: &str) -> PathForm {
    RequestPath::read(raw).form
}

#[test]
fn plain_paths_are_read_as_written() {
    for (raw, want) in [
        ("/", "/"),
        ("/public", "/public"),
        ("/public/", "/public/"),
        ("/public/a.b/c-d_e~f", "/public/a.b/c-d_e~f"),
        ("/public?x=/../admin", "/public"),
        ("/public#/../admin", "/public"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/a%20b", "/a%20b"),
        ("/...", "/..."),
        ("/.well-known/x", "/.well-known/x"),
    ] {
        let p = RequestPath::read(raw);
        assert_eq!(p.plain(), Some(want), "{raw:?}");
    }
}

#[test]
fn each_ambiguity_is_named_and_resolved_like_nginx() {
    use Ambiguity::*;
    for (raw, why, resolved) in [
        ("/public//../admin", EmptySegment, "/admin"),
        ("//admin", EmptySegment, "/admin"),
        ("/public/../admin", DotSegment, "/admin"),
        ("/public/./x", DotSegment, "/public/x"),
        ("/public/x/..", DotSegment, "/public/"),
        ("/../../admin", DotSegment, "/admin"),
        ("/..", DotSegment, "/"),
        ("/public/%2e%2e/admin", EncodedUnreserved, "/admin"),
        ("/public/.%2E/admin", EncodedUnreserved, "/admin"),
        ("/%70ublic", EncodedUnreserved, "/public"),
        ("/public/..%2fadmin", EncodedSeparator, "/public/..%2Fadmin"),
        ("/public/a%2fb", EncodedSeparator, "/public/a%2Fb"),
        ("/public/a%5Cb", EncodedSeparator, "/public/a%5Cb"),
        ("/public\\..\\admin", Backslash, "/public\\..\\admin"),
        ("/public/..;/admin", PathParameter, "/public/..;/admin"),
        ("/public;x=1", PathParameter, "/public;x=1"),
        ("/public%3bx", PathParameter, "/public%3Bx"),
        (
            "/public/%252e%252e/admin",
            DoubleEncoding,
            "/public/%252e%252e/admin",
        ),
        ("/public/%00", EncodedControl, "/public/%00"),
        (
            "/public/%c0%ae%c0%ae/admin",
            InvalidUtf8,
            "/public/%C0%AE%C0%AE/admin",
        ),
        ("/public/%c3", InvalidUtf8, "/public/%C3"),
    ] {
        let p = RequestPath::read(raw);
        assert_eq!(p.plain(), None, "{raw:?}");
        // The first ambiguity met (escapes before segments) names the reason.
        assert_eq!(p.form, PathForm::Ambiguous(why), "{raw:?}");
        assert_eq!(p.resolved, resolved, "{raw:?}");
    }
}

#[test]
fn unreadable_paths_are_never_plain() {
    for raw in [
        "",
        "public",
        "/a b",
        "/public/\tx",
        "/public/%",
        "/public/%2",
        "/public/%zz",
        "/public/%+f",
        "/café",
        "\\public",
    ] {
        assert_eq!(form(raw), PathForm::Unreadable, "{raw:?}");
        assert_eq!(RequestPath::read(raw).plain(), None);
    }
}
