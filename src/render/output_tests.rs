use super::*;
use crate::reconcile::compile::compile;
use crate::reconcile::rotation::Outlook;
use k8s_openapi::jiff::Timestamp;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

#[test]
fn the_rotation_line_says_what_happens_now_and_next() {
    let due = Outlook {
        rotating_because: Some("spec.rotation.period elapsed"),
        next_due: Some(at(200_000)),
        previous_until: Some(at(110_000)),
    };
    assert_eq!(
        rotation_line(&due).unwrap(),
        "secret rotation due now (spec.rotation.period elapsed): a new secret would be minted, \
         the previous kept until 1970-01-02T06:33:20Z; next due 1970-01-03T07:33:20Z"
    );
    let waiting = Outlook {
        rotating_because: None,
        next_due: Some(at(200_000)),
        previous_until: None,
    };
    assert_eq!(
        rotation_line(&waiting).unwrap(),
        "secret rotation: next due 1970-01-03T07:33:20Z"
    );
    let overlap = Outlook {
        previous_until: Some(at(110_000)),
        ..waiting.clone()
    };
    assert_eq!(
        rotation_line(&overlap).unwrap(),
        "secret rotation: the previous secret is kept until 1970-01-02T06:33:20Z; next due 1970-01-03T07:33:20Z"
    );
    let nothing = Outlook {
        next_due: None,
        ..waiting
    };
    assert_eq!(rotation_line(&nothing), None);
}

const DUE: &str = r#"
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {name: idp, namespace: team}
spec: {issuerURL: "https://idp.example.com", clientRef: {name: app}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {name: app, namespace: team}
spec:
  providerRef: {name: idp}
  mode: Generated
  clientID: app
  redirectURIs: [https://app.example.com/cb]
  rotation: {period: 1h, grace: 30m}
---
apiVersion: v1
kind: Secret
metadata: {name: app-portcullis-state, namespace: team}
stringData: {client-secret: the-old-value, rotated-at: "1970-01-01T00:00:00Z"}
"#;

#[test]
fn a_due_rotation_heads_the_client_and_neither_secret_is_printed() {
    let mut loaded = Loaded::default();
    crate::render::load::load_text(DUE, "due.yaml", "default", &mut loaded).unwrap();
    let compiled = compile(&loaded.world, "portcullis-system", at(7200), &mut || {
        "the-new-value".into()
    });
    let text = render(&loaded, &compiled, false);
    assert!(
        text.contains(
            "---\n# OAuthClient team/app: secret rotation due now (spec.rotation.period elapsed): \
             a new secret would be minted, the previous kept until 1970-01-01T02:30:00Z; next due \
             1970-01-01T03:00:00Z\napiVersion: portcullis.dev/v1alpha1\nkind: OAuthClient\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("lastRotationTime: 1970-01-01T02:00:00Z"),
        "{text}"
    );
    assert!(
        text.contains("client-secret-previous: <redacted>"),
        "{text}"
    );
    assert!(
        !text.contains("the-old-value") && !text.contains("the-new-value"),
        "{text}"
    );
    let shown = render(&loaded, &compiled, true);
    assert!(
        shown.contains("client-secret-previous: the-old-value"),
        "{shown}"
    );
}

/// The operator's side effects beyond objects, shown where people read the client:
/// which workloads a rotation restarts, and what a Dynamic client would register.
#[test]
fn restarts_and_a_pending_registration_head_the_client() {
    let due = DUE.replace(
        "  rotation: {period: 1h, grace: 30m}",
        "  rotation: {period: 1h, grace: 30m}\n  restartOnRotation: [{kind: Deployment, name: web}, {kind: StatefulSet, name: worker}]",
    );
    let compile_at = |text: &str, seconds: i64| {
        let mut loaded = Loaded::default();
        crate::render::load::load_text(text, "in.yaml", "default", &mut loaded).unwrap();
        let compiled = compile(&loaded.world, "portcullis-system", at(seconds), &mut || {
            "minted".into()
        });
        render(&loaded, &compiled, false)
    };
    let now = compile_at(&due, 7200);
    assert!(
        now.contains("# OAuthClient team/app: would restart Deployment web, StatefulSet worker now, as the secret rotates (spec.restartOnRotation)\n"),
        "{now}"
    );
    let later = compile_at(&due, 1800);
    assert!(
        later.contains("# OAuthClient team/app: restarts Deployment web, StatefulSet worker whenever a rotation changes the secret"),
        "{later}"
    );
    assert!(!compile_at(DUE, 7200).contains("restartOnRotation)"));

    let dynamic = format!(
        "{}\n---\napiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {{name: r, namespace: team}}\nspec: {{hosts: [app.example.com], providerRef: {{name: idp}}, policy: {{groups: [admins]}}, session: {{store: {{redis: {{urls: ['redis://redis:6379']}}}}}}}}\n",
        DUE.replace(
            "  mode: Generated\n  clientID: app\n",
            "  mode: Dynamic\n  registration: {clientName: App}\n"
        )
        .split("\n---\napiVersion: v1\nkind: Secret")
        .next()
        .unwrap()
    );
    let text = compile_at(&dynamic, 7200);
    let line = text
        .lines()
        .find(|l| l.starts_with("# OAuthClient team/app: would register (RFC 7591) at the provider's registration endpoint"))
        .unwrap_or_else(|| panic!("{text}"));
    let body: serde_json::Value =
        serde_json::from_str(&line[line.find(" with {").unwrap() + 6..]).unwrap();
    assert_eq!(body["client_name"], "App");
    assert_eq!(
        body["redirect_uris"],
        serde_json::json!([
            "https://app.example.com/cb",
            "https://app.example.com/oauth2/callback"
        ])
    );
    assert_eq!(
        body["backchannel_logout_uri"],
        "https://app.example.com/oauth2/backchannel-logout"
    );
    assert!(!text.contains("minted"), "{text}");
}
