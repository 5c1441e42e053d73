//! `render` and the operator plan a Generated client's secret rotation with one function:
//! both call `reconcile::client_plan::desired`, render reading the state Secret among the
//! manifests where the operator reads its cache. For the same inputs (a rotation period,
//! the last rotation recorded in the state Secret), once before the period elapsed and
//! once after, render computes the status the operator publishes, the Secrets it
//! writes, and a rotation outlook that matches what the operator did.

use crate::operator_support::*;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use portcullis::reconcile::compile::{Compiled, compile};
use portcullis::reconcile::key::ObjectKey;
use portcullis::reconcile::{Desired, World};
use portcullis::render::Loaded;
use portcullis::render::load::load_text;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

const PERIOD_SECONDS: i64 = 720 * 3600;
const GRACE_SECONDS: i64 = 2 * 3600;

/// The manifests, with the state Secret recording the last rotation at `rotated_at`.
fn world(rotated_at: Timestamp) -> World {
    let text = format!(
        r#"
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: idp, namespace: team}}
spec:
  issuerURL: https://idp.example.com
  clientRef: {{name: app}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: app, namespace: team}}
spec:
  providerRef: {{name: idp}}
  mode: Generated
  clientID: app
  redirectURIs: [https://app.example.com/oauth2/callback]
  rotation: {{period: 720h, grace: 2h}}
---
apiVersion: v1
kind: Secret
metadata: {{name: app-portcullis-state, namespace: team}}
stringData: {{client-secret: old-value, rotated-at: "{rotated_at}"}}
"#
    );
    let mut loaded = Loaded::default();
    load_text(&text, "rotation.yaml", "default", &mut loaded).expect("objects load");
    loaded.world
}

fn rendered(world: &World) -> Compiled {
    compile(world, "portcullis-system", now(), &mut mint)
}

/// What the operator sends for the client in `world`, the steps it must take in order.
async fn published(world: &World, rotates: bool) -> Vec<Exchange> {
    let client = world.clients[0].clone();
    let (kc, handle) = mock();
    let ctx = context(
        kc,
        world.providers.clone(),
        vec![client.clone()],
        vec![],
        world.secrets.clone(),
    );
    let scenario = if rotates {
        Scenario::ClientRotated(client.clone())
    } else {
        // The target Secret, the state Secret, the status: no new secret minted.
        Scenario::GeneratedClientProjected(client.clone())
    };
    let v = ApiServerVerifier(handle).run(scenario);
    portcullis::operator::client::reconcile(Arc::new(client), ctx)
        .await
        .unwrap();
    v.await.unwrap()
}

fn rendered_secret(compiled: &Compiled, name: &str) -> BTreeMap<String, String> {
    compiled
        .objects
        .iter()
        .find_map(|o| match o {
            Desired::Secret(s) if s.metadata.name.as_deref() == Some(name) => {
                Some(portcullis::reconcile::client::secret_data(s))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("render writes Secret {name}"))
}

fn applied_secret(exchange: &Exchange) -> BTreeMap<String, String> {
    portcullis::reconcile::client::secret_data(
        &serde_json::from_value::<Secret>(exchange.body.clone()).unwrap(),
    )
}

/// Runs both sides and checks they agree; returns render's result for the case's own
/// assertions.
async fn agree(rotated_at: Timestamp, rotates: bool) -> Compiled {
    let world = world(rotated_at);
    let compiled = rendered(&world);
    let exchanges = published(&world, rotates).await;
    let key = ObjectKey::new("team", "app");

    let status: Value = serde_json::to_value(&compiled.client_status[&key]).unwrap();
    assert_eq!(
        status, exchanges[2].body["status"],
        "render's status is the one the operator publishes"
    );
    assert_eq!(
        rendered_secret(&compiled, "app-oauth"),
        applied_secret(&exchanges[0]),
        "the application's Secret"
    );
    let state = applied_secret(&exchanges[1]);
    assert_eq!(
        rendered_secret(&compiled, "app-portcullis-state"),
        state,
        "the state Secret"
    );

    let outlook = &compiled.client_rotation[&key];
    assert_eq!(
        outlook.rotating_because.is_some(),
        exchanges.len() == 4 && exchanges[3].body["reason"] == "Rotated",
        "render says a rotation happens exactly when the operator announces one"
    );
    let last: Timestamp = state["rotated-at"].parse().unwrap();
    assert_eq!(
        outlook.next_due.map(|t| t.as_second()),
        Some(last.as_second() + PERIOD_SECONDS),
        "the next rotation is due a period after the one the operator recorded"
    );
    assert_eq!(
        outlook.previous_until.map(|t| t.to_string()),
        state.get("previous-valid-until").cloned(),
        "the previous secret is kept as long as the operator keeps it"
    );
    compiled
}

#[tokio::test]
async fn before_the_period_elapses_render_and_the_operator_keep_the_secret() {
    let rotated_at = Timestamp::from_second(now().as_second() - PERIOD_SECONDS + 60).unwrap();
    let compiled = agree(rotated_at, false).await;
    let key = ObjectKey::new("team", "app");
    let status = &compiled.client_status[&key];
    assert_eq!(
        status.last_rotation_time.as_deref(),
        Some(rotated_at.to_string().as_str()),
        "the recorded rotation stands"
    );
    let outlook = &compiled.client_rotation[&key];
    assert_eq!(outlook.rotating_because, None);
    assert_eq!(outlook.previous_until, None);
    assert_eq!(
        outlook.next_due.map(|t| t.as_second()),
        Some(now().as_second() + 60)
    );
    let state = rendered_secret(&compiled, "app-portcullis-state");
    assert_eq!(state["client-secret"], "old-value", "no new secret");
}

#[tokio::test]
async fn once_the_period_elapsed_render_and_the_operator_rotate_with_overlap() {
    let rotated_at = Timestamp::from_second(now().as_second() - PERIOD_SECONDS).unwrap();
    let compiled = agree(rotated_at, true).await;
    let key = ObjectKey::new("team", "app");
    assert_eq!(
        compiled.client_status[&key].last_rotation_time.as_deref(),
        Some(now().to_string().as_str()),
        "the rotation is stamped now"
    );
    let outlook = &compiled.client_rotation[&key];
    assert_eq!(
        outlook.rotating_because,
        Some("spec.rotation.period elapsed")
    );
    assert_eq!(
        outlook.previous_until.map(|t| t.as_second()),
        Some(now().as_second() + GRACE_SECONDS)
    );
    let target = rendered_secret(&compiled, "app-oauth");
    assert_eq!(target["client-secret"], CANARY, "a new secret is minted");
    assert_eq!(target["client-secret-previous"], "old-value");
}
