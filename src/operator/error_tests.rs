//! Errors name the verb and the object and keep the API server's error as their source.

use super::*;
use std::error::Error as _;

fn conflict() -> kube::Error {
    kube::Error::Api(
        kube::core::Status::failure("the object has been modified", "Conflict")
            .with_code(409)
            .boxed(),
    )
}

#[test]
fn an_api_error_names_verb_and_object_and_keeps_its_source() {
    let failed: std::result::Result<(), kube::Error> = Err(conflict());
    let e = failed
        .during(Verb::ApplyStatus, || "OAuthClient team/grafana".into())
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("apply status of OAuthClient team/grafana: "),
        "{text}"
    );
    assert!(text.contains("the object has been modified"), "{text}");
    // The source is the API server's error itself, not a string of it.
    let source = e.source().expect("a source");
    assert!(source.downcast_ref::<kube::Error>().is_some(), "{source:?}");
    // Metrics keep their labels.
    assert_eq!(e.metric_label(), "conflict");
    assert_eq!(Error::Kube(conflict()).metric_label(), "conflict");
}

#[test]
fn describe_names_kind_namespace_and_name() {
    let mut c = crate::api::OAuthClient::new("grafana", Default::default());
    c.metadata.namespace = Some("team".into());
    assert_eq!(describe(&c), "OAuthClient team/grafana");
}

#[test]
fn a_busy_admin_port_names_the_address_and_keeps_the_io_error() {
    let e = Error::Listen {
        addr: "127.0.0.1:8081".parse().unwrap(),
        source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
    };
    assert!(
        e.to_string()
            .starts_with("admin server on 127.0.0.1:8081: ")
    );
    assert!(e.source().is_some());
    assert_eq!(e.metric_label(), "listen");
}

#[test]
fn idp_errors_name_the_call_and_url_with_the_texts_status_has_always_shown() {
    use super::idp_error::{IdpCall, IdpError};
    let url = "https://idp.example.com/reg".to_string();
    let refused = |code: Option<&str>| {
        Error::from(IdpError::Refused {
            call: IdpCall::Register,
            url: url.clone(),
            status: reqwest::StatusCode::BAD_REQUEST,
            code: code.map(str::to_string),
        })
    };
    assert_eq!(
        refused(Some("invalid_redirect_uri")).to_string(),
        "IdP: client registration at https://idp.example.com/reg: HTTP 400 Bad Request invalid_redirect_uri"
    );
    assert_eq!(
        refused(None).to_string(),
        "IdP: client registration at https://idp.example.com/reg: HTTP 400 Bad Request"
    );
    assert_eq!(refused(None).metric_label(), "idp");
    let gone = IdpError::NotFound {
        call: IdpCall::Register,
        url: url.clone(),
    };
    assert_eq!(
        gone.to_string(),
        "client registration at https://idp.example.com/reg: HTTP 404"
    );
    let garbage = IdpError::NotClientInformation {
        call: IdpCall::Update,
        url: url.clone(),
        source: serde_json::from_str::<serde_json::Value>("<html>").unwrap_err(),
    };
    assert_eq!(
        garbage.to_string(),
        "client update at https://idp.example.com/reg: the response is not client information (RFC 7591 §3.2.1)"
    );
    assert!(
        garbage
            .source()
            .and_then(|s| s.downcast_ref::<serde_json::Error>())
            .is_some()
    );
    // The typed error is the operator error's source, not a string of it.
    let e = Error::from(garbage);
    assert!(
        e.source()
            .and_then(|s| s.downcast_ref::<IdpError>())
            .is_some()
    );
    let token = IdpError::InitialAccessTokenMissing {
        secret: crate::reconcile::key::ObjectKey::new("team", "reg-token"),
        key: "token".into(),
    };
    assert_eq!(
        token.to_string(),
        "Secret team/reg-token key \"token\" not found (spec.registration.initialAccessTokenRef)"
    );
    let bundle = IdpError::CaBundleMissing {
        bundle: crate::reconcile::key::ObjectKey::new("auth", "corp-ca"),
        key: "ca.crt".into(),
    };
    assert_eq!(
        bundle.to_string(),
        "caBundleRef auth/corp-ca key \"ca.crt\" not found"
    );
    for (call, text) in [
        (IdpCall::Read, "client read"),
        (IdpCall::Delete, "client delete"),
    ] {
        assert_eq!(call.to_string(), text);
    }
}

#[test]
fn lease_keys_and_finalizer_errors_keep_their_context() {
    let lost = Error::LeaseLost {
        lease: crate::reconcile::key::ObjectKey::new("portcullis-system", "portcullis-operator"),
    };
    assert_eq!(
        lost.to_string(),
        "leader election: Lease portcullis-system/portcullis-operator taken over by another replica"
    );
    assert_eq!(lost.metric_label(), "lease");
    let keys = Error::Keys {
        what: KeyMaterial::SigningKey,
        source: aws_lc_rs::error::Unspecified,
    };
    assert_eq!(
        keys.to_string(),
        "outpost keys: generating a P-256 key failed"
    );
    assert!(keys.source().is_some());
    let random = Error::Keys {
        what: KeyMaterial::CookieSecret,
        source: aws_lc_rs::error::Unspecified,
    };
    assert_eq!(
        random.to_string(),
        "outpost keys: the system random generator failed"
    );
    let finalizer = Error::Finalizer {
        object: "OAuthClient team/grafana".into(),
        source: Box::new(kube::runtime::finalizer::Error::UnnamedObject),
    };
    assert!(
        finalizer
            .to_string()
            .starts_with("finalizer of OAuthClient team/grafana: "),
        "{finalizer}"
    );
    assert!(finalizer.source().is_some());
    assert_eq!(finalizer.metric_label(), "finalizer");
}
