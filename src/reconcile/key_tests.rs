use super::*;
use crate::api::ForwardAuthRoute;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

#[test]
fn display_and_parse_round_trip() {
    let key = ObjectKey::new("team-a", "dashboard");
    assert_eq!(key.to_string(), "team-a/dashboard");
    assert_eq!("team-a/dashboard".parse::<ObjectKey>(), Ok(key));
    // A namespace-less key (render input without metadata.namespace) survives too.
    let bare = ObjectKey::new("", "x");
    assert_eq!(bare.to_string().parse::<ObjectKey>(), Ok(bare));
}

#[test]
fn bad_text_is_refused_with_what_is_wrong_and_the_form_wanted() {
    for (text, problem) in [
        ("dashboard", "no '/'"),
        ("a/b/c", "more than one '/'"),
        ("team-a/", "the name after '/' is empty"),
    ] {
        let e = text.parse::<ObjectKey>().unwrap_err();
        assert_eq!(e.problem, problem, "{text}");
        let message = e.to_string();
        assert!(
            message.contains(&format!("{text:?}")) && message.contains("namespace/name"),
            "{message}"
        );
    }
}

#[test]
fn keys_sort_as_their_text_did() {
    let mut keys = [
        ObjectKey::new("a", "x"),
        ObjectKey::new("a-b", "y"),
        ObjectKey::new("a", "w"),
        ObjectKey::new("ab", "a"),
    ];
    keys.sort();
    let mut texts: Vec<String> = keys.iter().map(ToString::to_string).collect();
    let sorted_as_text = {
        let mut t = texts.clone();
        t.sort();
        t
    };
    assert_eq!(texts, sorted_as_text);
    texts.dedup();
    assert_eq!(texts, ["a-b/y", "a/w", "a/x", "ab/a"]);
}

#[test]
fn key_of_an_object_and_its_reflector_reference() {
    let route = ForwardAuthRoute {
        metadata: ObjectMeta {
            namespace: Some("apps".into()),
            name: Some("grafana".into()),
            ..Default::default()
        },
        spec: Default::default(),
        status: None,
    };
    let key = ObjectKey::of(&route);
    assert_eq!(key, ObjectKey::new("apps", "grafana"));
    let r = key.object_ref::<ForwardAuthRoute>();
    assert_eq!(
        (r.name.as_str(), r.namespace.as_deref()),
        ("grafana", Some("apps"))
    );
}
