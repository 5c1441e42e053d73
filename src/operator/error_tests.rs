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
