//! Leader election against a mocked API server: create, stand by, lose a race.

use crate::operator_support;

use operator_support::*;
use portcullis::operator::lease::Elector;
use serde_json::json;

fn lease(holder: &str, renewed: &str) -> serde_json::Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
           "metadata": {"name": "portcullis-operator", "namespace": "sys", "resourceVersion": "42"},
           "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed, "acquireTime": renewed}})
}

#[tokio::test]
async fn first_replica_creates_the_lease() {
    let (kc, handle) = mock();
    let v = ApiServerVerifier(handle).run(Scenario::LeaseCreated {
        namespace: "sys".into(),
        name: "portcullis-operator".into(),
    });
    let led = Elector::new(kc, "sys", "portcullis-operator", "pod-a")
        .try_lead()
        .await
        .unwrap();
    let [_, create] = <[Exchange; 2]>::try_from(v.await.unwrap()).unwrap();
    assert!(led);
    assert_eq!(create.body["spec"]["holderIdentity"], "pod-a");
    assert_eq!(create.body["spec"]["leaseDurationSeconds"], 15);
}

#[tokio::test]
async fn a_valid_lease_of_another_replica_means_standby_without_writing() {
    let (kc, handle) = mock();
    let fresh = k8s_openapi::jiff::Timestamp::now().to_string();
    let v = ApiServerVerifier(handle).run(Scenario::LeaseHeldElsewhere(lease("pod-a", &fresh)));
    let led = Elector::new(kc, "sys", "portcullis-operator", "pod-b")
        .try_lead()
        .await
        .unwrap();
    v.await.unwrap();
    assert!(!led);
}

#[tokio::test]
async fn an_expired_lease_is_taken_with_a_conditional_update_and_a_lost_race_is_standby() {
    let (kc, handle) = mock();
    // Another replica updates it first: 409 Conflict on our resourceVersion.
    let v = ApiServerVerifier(handle).run(Scenario::LeaseTakeoverLost(lease(
        "pod-a",
        "2020-01-01T00:00:00.000000Z",
    )));
    let led = Elector::new(kc, "sys", "portcullis-operator", "pod-b")
        .try_lead()
        .await
        .unwrap();
    let [_, put] = <[Exchange; 2]>::try_from(v.await.unwrap()).unwrap();
    assert!(!led);
    assert_eq!(put.body["metadata"]["resourceVersion"], "42");
    assert_eq!(put.body["spec"]["holderIdentity"], "pod-b");
    assert_eq!(put.body["spec"]["leaseTransitions"], 1);
}
