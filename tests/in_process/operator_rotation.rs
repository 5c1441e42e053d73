//! Rotation of a Generated secret by annotation: new value, previous one published
//! during the grace period, `Rotating` condition, an event, and a rollout restart.

use crate::operator_support;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use operator_support::*;
use portcullis::api::*;
use portcullis::operator::client::reconcile;
use portcullis::reconcile::fixtures as fx;
use serde_json::Value;
use std::sync::Arc;

/// The provider `team/idp`.
fn provider() -> OIDCProvider {
    fx::provider("team", "idp", "https://idp.example")
}

/// The Generated client `team/app`: rotated every 720h with 2h of grace, restarting
/// Deployment `app`, and annotated to rotate now.
fn client() -> OAuthClient {
    let mut c = fx::client("team", "app", ClientMode::Generated, "idp", None);
    c.spec.rotation = Some(RotationSpec {
        period: "720h".into(),
        grace: Some("2h".into()),
    });
    c.spec.restart_on_rotation = Some(vec![WorkloadRef {
        kind: WorkloadKind::Deployment,
        name: "app".into(),
    }]);
    c.metadata.annotations = Some(
        [(
            portcullis::operator::ROTATE_ANNOTATION.to_string(),
            "please".to_string(),
        )]
        .into(),
    );
    c
}

fn state() -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some("app-portcullis-state".into()),
            namespace: Some("team".into()),
            ..Default::default()
        },
        data: Some(
            [
                (
                    "client-secret".to_string(),
                    ByteString(b"old-value".to_vec()),
                ),
                (
                    "rotated-at".to_string(),
                    ByteString(now().to_string().into_bytes()),
                ),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

fn data(v: &Value) -> std::collections::BTreeMap<String, String> {
    portcullis::reconcile::client::secret_data(
        &serde_json::from_value::<Secret>(v.clone()).unwrap(),
    )
}

#[tokio::test]
async fn annotation_rotates_once_keeps_the_previous_secret_and_restarts_workloads() {
    let (logs, _guard) = capture_logs();
    let (kc, handle) = mock();
    let ctx = context(kc, vec![provider()], vec![client()], vec![], vec![state()]);
    let v = ApiServerVerifier(handle).run(Scenario::ClientRotated(client()));
    reconcile(Arc::new(client()), ctx).await.unwrap();
    let [target, state_w, status, event, restart] =
        <[Exchange; 5]>::try_from(v.await.unwrap()).unwrap();

    let t = data(&target.body);
    assert_eq!(t["client-secret"], CANARY, "the new value is current");
    assert_eq!(
        t["client-secret-previous"], "old-value",
        "the old one stays valid during grace"
    );
    let s = data(&state_w.body);
    assert_eq!(s["client-secret"], CANARY);
    assert_eq!(s["client-secret-previous"], "old-value");
    assert_eq!(s["rotate-trigger"], "please");
    let st = &status.body["status"];
    let rotating = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Rotating")
        .unwrap();
    assert_eq!(rotating["status"], "True");
    assert_eq!(st["lastRotationTime"], now().to_string());
    assert_eq!(event.body["type"], "Normal");
    assert_eq!(event.body["reason"], "Rotated");
    assert!(event.body["note"].as_str().unwrap().contains("sha256:"));
    assert!(
        restart.body["spec"]["template"]["metadata"]["annotations"]
            [portcullis::operator::RESTARTED_AT_ANNOTATION]
            .is_string()
    );
    for (what, text) in [
        ("status", status.body.to_string()),
        ("event", event.body.to_string()),
        (
            "logs",
            String::from_utf8_lossy(&logs.lock().unwrap()).to_string(),
        ),
    ] {
        assert!(
            !leaks(&text) && !text.contains("old-value"),
            "a secret leaked into {what}: {text}"
        );
    }

    // The same annotation value again (state now records it): no second rotation.
    let written_state: Secret = serde_json::from_value(state_w.body.clone()).unwrap();
    let written_target: Secret = serde_json::from_value(target.body.clone()).unwrap();
    let mut converged = client();
    converged.status = Some(serde_json::from_value(st.clone()).unwrap());
    let (kc, handle) = mock();
    drop(handle);
    let ctx = context(
        kc,
        vec![provider()],
        vec![converged.clone()],
        vec![],
        vec![written_state, written_target],
    );
    reconcile(Arc::new(converged), ctx.clone())
        .await
        .expect("converged: no request");
    assert_eq!(ctx.metrics.writes_of("secret"), 0);
}
