//! The route controller learns the writer's verdicts from one watch: which routes it is
//! told to reconcile as values are published.

use super::*;
use std::time::Duration;

fn verdicts(entries: &[(&str, Result<(), &str>)]) -> Option<Arc<Programmed>> {
    Some(Arc::new(
        entries
            .iter()
            .map(|(name, v)| (ObjectKey::new("apps", *name), v.map_err(str::to_string)))
            .collect(),
    ))
}

async fn next_names(
    stream: &mut (impl Stream<Item = ObjectRef<ForwardAuthRoute>> + Unpin),
    n: usize,
) -> Vec<String> {
    let mut names = Vec::new();
    for _ in 0..n {
        let r = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("a trigger")
            .expect("the stream goes on");
        assert_eq!(r.namespace.as_deref(), Some("apps"));
        names.push(r.name);
    }
    names.sort();
    names
}

async fn nothing_more(stream: &mut (impl Stream<Item = ObjectRef<ForwardAuthRoute>> + Unpin)) {
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .is_err(),
        "no trigger expected"
    );
}

#[tokio::test]
async fn routes_are_triggered_when_their_verdict_appears_or_changes_and_only_then() {
    let (tx, rx) = watch::channel(None);
    let mut stream = Box::pin(verdict_changes(rx));
    // The first pass: every judged route.
    tx.send_replace(verdicts(&[("a", Ok(())), ("b", Err("conflict"))]));
    assert_eq!(next_names(&mut stream, 2).await, ["a", "b"]);
    // The same verdicts again (a pass that changed nothing): no trigger.
    tx.send_replace(verdicts(&[("a", Ok(())), ("b", Err("conflict"))]));
    nothing_more(&mut stream).await;
    // b's verdict changes, c is new.
    tx.send_replace(verdicts(&[
        ("a", Ok(())),
        ("b", Ok(())),
        ("c", Err("provider unusable")),
    ]));
    assert_eq!(next_names(&mut stream, 2).await, ["b", "c"]);
    nothing_more(&mut stream).await;
}

#[tokio::test]
async fn passes_published_between_reads_are_diffed_against_what_was_seen() {
    let (tx, rx) = watch::channel(None);
    let mut stream = Box::pin(verdict_changes(rx));
    tx.send_replace(verdicts(&[("a", Ok(()))]));
    assert_eq!(next_names(&mut stream, 1).await, ["a"]);
    // Two passes before the controller reads: a flips and flips back (nothing to do),
    // b appears in the first and changes in the second (one trigger).
    tx.send_replace(verdicts(&[("a", Err("conflict")), ("b", Ok(()))]));
    tx.send_replace(verdicts(&[("a", Ok(())), ("b", Err("conflict"))]));
    assert_eq!(next_names(&mut stream, 1).await, ["b"]);
    nothing_more(&mut stream).await;
}
