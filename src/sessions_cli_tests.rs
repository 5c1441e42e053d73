use super::*;

/// A port that accepts connections and never answers (a port-forward to a stuck pod).
async fn silent_port() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/sessions?user=ann",
        listener.local_addr().unwrap()
    );
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

#[tokio::test]
async fn an_admin_port_that_never_answers_times_out_with_an_error_naming_it() {
    let (url, server) = silent_port().await;
    let overall = Duration::from_millis(300);
    let client = admin_client(Duration::from_millis(300), overall).unwrap();
    let started = std::time::Instant::now();
    let err = call(&client, &url, false, overall)
        .await
        .expect_err("no answer is an error, not a hang");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, SessionsError::TimedOut { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("0.3s"), "{text}");
    assert!(
        text.contains("--admin"),
        "the message names the flag to fix: {text}"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause is kept"
    );
    server.abort();
}

#[tokio::test]
async fn a_closed_port_is_unreachable_with_the_cause_and_the_url() {
    // Bind then drop: nothing listens on the port afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/sessions/revoke?user=ann");
    let client = admin_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT).unwrap();
    let err = call(&client, &url, true, REQUEST_TIMEOUT)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SessionsError::Unreachable { .. }), "{err:?}");
    assert!(text.starts_with(&url), "{text}");
    assert!(text.to_ascii_lowercase().contains("refused"), "{text}");
    assert!(
        !text.contains(&format!("for url ({url})")),
        "the URL is said once: {text}"
    );
}

#[tokio::test]
async fn an_answer_is_returned_whatever_its_status() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/sessions/revoke",
        axum::routing::post(|| async { (axum::http::StatusCode::CONFLICT, "no store") }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = admin_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT).unwrap();
    let (status, body) = call(
        &client,
        &format!("{base}/sessions/revoke?user=ann"),
        true,
        REQUEST_TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!((status.as_u16(), body.as_str()), (409, "no store"));
    server.abort();
}
