//! ForwardAuthRoute and configuration-writer scenarios against a mocked API server.

use crate::operator_support;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::{reflector, watcher};
use operator_support::*;
use portcullis::api::*;
use portcullis::operator::{route, writer};
use portcullis::reconcile::fixtures::{self as fx, Fixture};
use portcullis::reconcile::writer_plan;
use std::sync::Arc;

/// The Ready provider `auth/idp`, referable from the `allowed` namespaces.
fn provider(allowed: &[&str]) -> OIDCProvider {
    let mut p = fx::ready(fx::provider("auth", "idp", "https://idp.example"));
    p.spec.allowed_namespaces = Some(allowed.iter().map(|s| s.to_string()).collect());
    p
}

/// The route `ns/name` of `auth/idp` on `<name>.example.com`, created at `i`.
fn route_obj(ns: &str, name: &str, i: i64) -> ForwardAuthRoute {
    fx::route(
        ns,
        name,
        &format!("{name}.example.com"),
        "idp",
        Some("auth"),
    )
    .created_at(i)
}

/// The credentials copy and the shards, as the writer applied them (to cache for the
/// next pass).
fn credentials_and_shards(written: Vec<Exchange>) -> (Secret, Vec<ConfigMap>) {
    let mut written = written.into_iter().map(|e| e.body);
    let credentials = serde_json::from_value(written.next().expect("the credentials copy"));
    let shards = written
        .map(|b| serde_json::from_value(b).unwrap())
        .collect();
    (credentials.unwrap(), shards)
}

async fn compile_verdicts(ctx: &portcullis::operator::Context) {
    let (_, programmed) = writer_plan::compile(
        &ctx.stores.providers.state(),
        &ctx.stores.clients.state(),
        &ctx.stores.routes.state(),
    );
    ctx.publish_verdicts(programmed);
}

#[tokio::test]
async fn a_refused_cross_namespace_reference_is_reported_on_the_route() {
    let (client, handle) = mock();
    let r = route_obj("team-b", "app", 1);
    let ctx = context(
        client,
        vec![provider(&["team-a"])],
        vec![],
        vec![r.clone()],
        vec![],
    );
    compile_verdicts(&ctx).await;
    let verifier = ApiServerVerifier(handle).run(Scenario::RouteRefused(r.clone()));
    route::reconcile(Arc::new(r), ctx).await.unwrap();
    let [status, event] = <[Exchange; 2]>::try_from(verifier.await.unwrap()).unwrap();
    let conds = status.body["status"]["conditions"]
        .as_array()
        .unwrap()
        .clone();
    let accepted = conds.iter().find(|c| c["type"] == "Accepted").unwrap();
    assert_eq!(accepted["status"], "False");
    assert_eq!(accepted["reason"], "RefNotPermitted");
    assert!(
        accepted["message"]
            .as_str()
            .unwrap()
            .contains("spec.allowedNamespaces")
    );
    let programmed = conds.iter().find(|c| c["type"] == "Programmed").unwrap();
    assert_eq!(programmed["status"], "False");
    assert_eq!(event.body["regarding"]["kind"], "ForwardAuthRoute");
    assert_eq!(event.body["regarding"]["namespace"], "team-b");
    assert_eq!(event.body["reason"], "RefNotPermitted");
}

#[tokio::test]
async fn routes_wait_for_the_writers_first_pass_instead_of_writing() {
    let (client, handle) = mock();
    drop(handle);
    let r = route_obj("auth", "app", 1);
    let ctx = context(client, vec![provider(&[])], vec![], vec![r.clone()], vec![]);
    // No verdicts yet: no request at all (the handle is gone, a request would fail).
    route::reconcile(Arc::new(r), ctx.clone()).await.unwrap();
    assert_eq!(ctx.metrics.writes_of("forwardauthroute_status"), 0);
}

/// Many routes: one round of writes, then a second round writes nothing at all.
#[tokio::test]
async fn many_routes_converge_and_a_second_round_writes_nothing() {
    const N: i64 = 2000;
    let routes: Vec<ForwardAuthRoute> = (0..N)
        .map(|i| route_obj("apps", &format!("r{i}"), i))
        .collect();
    let (client, handle) = mock();
    // Routes live in another namespace than the provider, which allows them.
    let ctx = context(
        client,
        vec![provider(&["apps"])],
        vec![],
        routes.clone(),
        vec![],
    );
    let (config, _) = writer_plan::compile(
        &ctx.stores.providers.state(),
        &[],
        &ctx.stores.routes.state(),
    );
    let expected_shards = portcullis::reconcile::shard::shards(&config, "portcullis-system").len();
    assert!(expected_shards >= 1);
    let (shards_store, mut shards_writer) = reflector::store::<ConfigMap>();

    // Round 1: the writer applies the credentials copy, then every shard once.
    let verifier = ApiServerVerifier(handle).run(Scenario::ConfigurationWritten {
        shards: expected_shards,
    });
    let changed = writer::pass(&ctx, &shards_store).await.unwrap();
    assert_eq!(changed.len(), N as usize);
    let (credentials, shards) = credentials_and_shards(verifier.await.unwrap());
    assert!(!shards.is_empty());
    for s in shards {
        shards_writer.apply_watcher_event(&watcher::Event::Apply(s));
    }

    // Round 1 of route statuses: one status write per route.
    let (client, handle) = mock();
    let mut ctx2 =
        portcullis::operator::Context::new(client, ctx.stores.clone(), "portcullis-system".into())
            .expect("an HTTP client");
    ctx2.now = now;
    ctx2.publish_verdicts(ctx.verdicts().expect("the writer passed").as_ref().clone());
    let ctx2 = Arc::new(ctx2);
    let verifier = ApiServerVerifier(handle).run(Scenario::RoutesProgrammed(routes.clone()));
    for r in &routes {
        route::reconcile(Arc::new(r.clone()), ctx2.clone())
            .await
            .unwrap();
    }
    let converged: Vec<ForwardAuthRoute> = routes
        .iter()
        .zip(verifier.await.unwrap())
        .map(|(r, status)| {
            let mut r = r.clone();
            r.status = Some(serde_json::from_value(status.body["status"].clone()).unwrap());
            r
        })
        .collect();
    assert_eq!(converged.len(), N as usize, "one status write per route");
    assert!(converged.iter().all(|r| {
        r.status
            .as_ref()
            .unwrap()
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    }));

    // Round 2: caches hold what was written. Nothing is written, by anyone.
    let (client, handle) = mock();
    drop(handle);
    let stores = portcullis::operator::context::Stores {
        routes: {
            let (s, mut w) = reflector::store();
            for r in &converged {
                w.apply_watcher_event(&watcher::Event::Apply(r.clone()));
            }
            s
        },
        owned_secrets: {
            let (s, mut w) = reflector::store();
            w.apply_watcher_event(&watcher::Event::Apply(credentials));
            s
        },
        ..ctx.stores.clone()
    };
    let mut ctx3 = portcullis::operator::Context::new(client, stores, "portcullis-system".into())
        .expect("an HTTP client");
    ctx3.now = now;
    let ctx3 = Arc::new(ctx3);
    let changed = writer::pass(&ctx3, &shards_store)
        .await
        .expect("no write of a shard or the credentials copy");
    assert_eq!(
        changed.len(),
        N as usize,
        "first pass of this context reports every verdict"
    );
    for r in &converged {
        route::reconcile(Arc::new(r.clone()), ctx3.clone())
            .await
            .expect("no status write");
    }
    let again = writer::pass(&ctx3, &shards_store).await.unwrap();
    assert!(again.is_empty());
    assert_eq!(
        ctx3.metrics.writes_of("configmap") + ctx3.metrics.writes_of("forwardauthroute_status"),
        0
    );
}

/// The writer alone at the design's scale: 10k routes, one round of shard writes, then
/// a pass over unchanged caches writes nothing (and no shard exceeds 1 MiB).
#[tokio::test]
async fn ten_thousand_routes_write_each_shard_once() {
    const N: i64 = 10_000;
    let routes: Vec<ForwardAuthRoute> = (0..N)
        .map(|i| route_obj("apps", &format!("r{i}"), i))
        .collect();
    let (client, handle) = mock();
    let ctx = context(client, vec![provider(&["apps"])], vec![], routes, vec![]);
    let (config, _) = writer_plan::compile(
        &ctx.stores.providers.state(),
        &[],
        &ctx.stores.routes.state(),
    );
    assert_eq!(config.routes.len(), N as usize);
    let expected = portcullis::reconcile::shard::shards(&config, "portcullis-system").len();
    assert!(expected > 1, "10k routes need more than one shard");
    let verifier =
        ApiServerVerifier(handle).run(Scenario::ConfigurationWritten { shards: expected });
    let (shards_store, mut shards_writer) = reflector::store::<ConfigMap>();
    writer::pass(&ctx, &shards_store).await.unwrap();
    let exchanges = verifier.await.unwrap();
    for shard in &exchanges[1..] {
        assert!(shard.size < 1024 * 1024, "a shard of {} bytes", shard.size);
    }
    let (credentials, written) = credentials_and_shards(exchanges);
    for s in written {
        shards_writer.apply_watcher_event(&watcher::Event::Apply(s));
    }
    // A second pass over caches holding what was written writes nothing at all.
    let (client, handle) = mock();
    drop(handle);
    let ctx2 = with_owned(&ctx, client, vec![credentials]);
    writer::pass(&ctx2, &shards_store).await.expect("no write");
    assert_eq!(ctx2.metrics.writes_of("configmap"), 0);
    assert_eq!(ctx2.metrics.writes_of("secret"), 0);
}

/// A restarted operator must not compile from half-listed caches: until every cache
/// has synced, the writer writes nothing and the client controller waits.
#[tokio::test]
async fn nothing_is_written_before_the_caches_have_synced() {
    let routes: Vec<ForwardAuthRoute> = (0..3)
        .map(|i| route_obj("apps", &format!("r{i}"), i))
        .collect();
    let (client, handle) = mock();
    drop(handle);
    let ctx = context(client, vec![provider(&["apps"])], vec![], routes, vec![]);
    ctx.caches_synced
        .store(false, std::sync::atomic::Ordering::Release);
    let (shards, _writer) = reflector::store::<ConfigMap>();
    let changed = writer::pass(&ctx, &shards)
        .await
        .expect("no request at all");
    assert!(changed.is_empty());
    assert_eq!(ctx.metrics.writes_of("configmap"), 0);
    assert_eq!(ctx.metrics.writes_of("secret"), 0);
    assert!(ctx.verdicts().is_none(), "routes keep waiting");
}
