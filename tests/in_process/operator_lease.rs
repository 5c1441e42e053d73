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

const PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/sys/leases";

#[tokio::test]
async fn first_replica_creates_the_lease() {
    let (kc, mut handle) = mock();
    let v = tokio::spawn(async move {
        expect(&mut handle, "GET", PATH, 404, |_| {
            api_error(404, "NotFound")
        })
        .await;
        expect(&mut handle, "POST", PATH, 201, |b| b.clone()).await
    });
    let led = Elector::new(kc, "sys", "portcullis-operator", "pod-a")
        .try_lead()
        .await
        .unwrap();
    let create = v.await.unwrap();
    assert!(led);
    assert_eq!(create.body["spec"]["holderIdentity"], "pod-a");
    assert_eq!(create.body["spec"]["leaseDurationSeconds"], 15);
}

#[tokio::test]
async fn a_valid_lease_of_another_replica_means_standby_without_writing() {
    let (kc, mut handle) = mock();
    let fresh = k8s_openapi::jiff::Timestamp::now().to_string();
    let v = tokio::spawn(async move {
        expect(&mut handle, "GET", PATH, 200, move |_| {
            lease("pod-a", &fresh)
        })
        .await;
    });
    let led = Elector::new(kc, "sys", "portcullis-operator", "pod-b")
        .try_lead()
        .await
        .unwrap();
    v.await.unwrap();
    assert!(!led);
}

#[tokio::test]
async fn an_expired_lease_is_taken_with_a_conditional_update_and_a_lost_race_is_standby() {
    let (kc, mut handle) = mock();
    let v = tokio::spawn(async move {
        expect(&mut handle, "GET", PATH, 200, |_| {
            lease("pod-a", "2020-01-01T00:00:00.000000Z")
        })
        .await;
        // Another replica updated it first: 409 Conflict on our resourceVersion.
        expect(
            &mut handle,
            "PUT",
            &format!("{PATH}/portcullis-operator"),
            409,
            |_| api_error(409, "Conflict"),
        )
        .await
    });
    let led = Elector::new(kc, "sys", "portcullis-operator", "pod-b")
        .try_lead()
        .await
        .unwrap();
    let put = v.await.unwrap();
    assert!(!led);
    assert_eq!(put.body["metadata"]["resourceVersion"], "42");
    assert_eq!(put.body["spec"]["holderIdentity"], "pod-b");
    assert_eq!(put.body["spec"]["leaseTransitions"], 1);
}
