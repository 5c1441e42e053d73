use super::*;
use crate::config::SecretKeyRef;
use crate::config::fixture::{config_yaml, provider, route};
use std::io::Write;

/// One provider whose client secret is read from `SECRET_FILE` (tests put a path or a
/// value there) and one route for anyone who signs in.
pub(crate) fn config() -> String {
    config_yaml(
        &[provider("team/idp", "https://idp.example.com").client_secret("{ file: SECRET_FILE }")],
        &[route(
            "team/app",
            "team/idp",
            "{ allowAnyAuthenticated: true }",
        )],
    )
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

#[test]
fn file_source_resolves_secrets_and_fingerprints_changes() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(&dir, "client", "s3cret-value\n");
    let config = write(
        &dir,
        "c.yaml",
        &config().replace("SECRET_FILE", secret.to_str().unwrap()),
    );
    let cookie = write(&dir, "cookie", "0123456789abcdef0123\n");
    let source = FileSource {
        path: config,
        cookie_secret_files: vec![cookie],
        cookie_secrets: vec!["another-secret-of-length".into()],
        ..Default::default()
    };
    let a = source.load_now().unwrap();
    assert_eq!(
        a.secrets["team/idp"].client_secret.as_deref(),
        Some("s3cret-value")
    );
    assert_eq!(a.cookie_secrets[0], b"0123456789abcdef0123");
    assert_eq!(a.cookie_secrets.len(), 2);
    assert_eq!(source.load_now().unwrap().fingerprint, a.fingerprint);
    // Rotating only the client secret file changes the fingerprint.
    write(&dir, "client", "rotated-value\n");
    assert_ne!(source.load_now().unwrap().fingerprint, a.fingerprint);
    assert!(!format!("{a:?}{:?}", a.secrets).contains("s3cret"));
}

#[test]
fn missing_or_short_cookie_secrets_say_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir,
        "c.yaml",
        &config().replace("{ file: SECRET_FILE }", "{ value: x }"),
    );
    let mut source = FileSource {
        path: config,
        cookie_secret_files: vec![],
        cookie_secrets: vec![],
        ..Default::default()
    };
    let err = source.load_now().unwrap_err().to_string();
    assert!(err.contains("--cookie-secret-file"), "{err}");
    source.cookie_secrets = vec!["short".into()];
    let err = source.load_now().unwrap_err().to_string();
    assert!(err.contains("shorter than 16"), "{err}");
}

#[test]
fn the_keys_secret_cookie_secret_comes_first_and_is_checked_like_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let text = config().replace("{ file: SECRET_FILE }", "{ value: x }");
    let config = OutpostConfig::from_yaml(&text, "c.yaml").unwrap();
    let source = FileSource {
        path: write(&dir, "c.yaml", &text),
        cookie_secret_files: vec![write(&dir, "cookie", "from-a-file-0123456789\n")],
        cookie_secrets: vec![],
        ..Default::default()
    };
    let newest = Some("from-the-keys-secret-0123\n".to_string());
    let snapshot = source
        .snapshot(config.clone(), &text, "c", &resolve_file_mode, newest)
        .unwrap();
    assert_eq!(snapshot.cookie_secrets[0], b"from-the-keys-secret-0123");
    assert_eq!(snapshot.cookie_secrets[1], b"from-a-file-0123456789");
    // A rotated keys Secret is a new configuration to the reload loop.
    let rotated = Some("rotated-keys-secret-01234".to_string());
    let after = source
        .snapshot(config.clone(), &text, "c", &resolve_file_mode, rotated)
        .unwrap();
    assert_ne!(after.fingerprint, snapshot.fingerprint);
    let short = Some("short".to_string());
    let err = source
        .snapshot(config, &text, "c", &resolve_file_mode, short)
        .unwrap_err()
        .to_string();
    assert!(err.contains("secret #1 is shorter than 16"), "{err}");
}

#[test]
fn cluster_references_are_refused_in_file_mode() {
    let source = SecretSource {
        secret_key_ref: Some(SecretKeyRef {
            namespace: "a".into(),
            name: "b".into(),
            key: "c".into(),
        }),
        ..Default::default()
    };
    let err = resolve_file_mode(&source).unwrap_err();
    assert!(
        err.contains("cluster mode not available in file mode"),
        "{err}"
    );
    let env = SecretSource {
        env: Some("PORTCULLIS_TEST_SURELY_UNSET_VARIABLE".into()),
        ..Default::default()
    };
    assert!(resolve_file_mode(&env).unwrap_err().contains("not set"));
}

#[test]
fn an_unchanged_file_is_not_parsed_again_and_any_change_is() {
    let dir = tempfile::tempdir().unwrap();
    let text = config().replace("{ file: SECRET_FILE }", "{ value: x }");
    let source = FileSource {
        path: write(&dir, "c.yaml", &text),
        cookie_secrets: vec!["a-cookie-secret-of-length".into()],
        ..Default::default()
    };
    let first = source.load_now().unwrap();
    for _ in 0..5 {
        let again = source.load_now().unwrap();
        assert_eq!(again.fingerprint, first.fingerprint);
        assert!(
            Arc::ptr_eq(&again.config, &first.config),
            "shared, not copied"
        );
    }
    assert_eq!(source.parsed.parses(), 1, "read six times, parsed once");
    // A clone (the cluster source holds one) shares the cache.
    assert_eq!(source.clone().parsed.parses(), 1);

    // One byte more (same length of every field but the new one) is a new text.
    let changed = text.replace("paths: [/]", "paths: [/, /x]");
    write(&dir, "c.yaml", &changed);
    let after = source.load_now().unwrap();
    assert_eq!(source.parsed.parses(), 2);
    assert_eq!(after.config.routes[0].paths, ["/", "/x"]);
    assert_ne!(after.fingerprint, first.fingerprint);

    // A change that keeps the length is seen too (bytes are compared, not sizes).
    let same_length = changed.replace("/x]", "/y]");
    assert_eq!(same_length.len(), changed.len());
    write(&dir, "c.yaml", &same_length);
    assert_eq!(
        source.load_now().unwrap().config.routes[0].paths,
        ["/", "/y"]
    );
    assert_eq!(source.parsed.parses(), 3);
}

#[test]
fn an_invalid_file_keeps_its_error_without_being_parsed_again() {
    let dir = tempfile::tempdir().unwrap();
    let source = FileSource {
        path: write(&dir, "c.yaml", "routes: [ {"),
        cookie_secrets: vec!["a-cookie-secret-of-length".into()],
        ..Default::default()
    };
    let first = source.load_now().unwrap_err().to_string();
    let second = source.load_now().unwrap_err().to_string();
    assert_eq!(first, second);
    assert!(first.contains("c.yaml"), "{first}");
    assert_eq!(source.parsed.parses(), 1);
    // Fixed: parsed again, and served.
    let text = config().replace("{ file: SECRET_FILE }", "{ value: x }");
    write(&dir, "c.yaml", &text);
    assert!(source.load_now().is_ok());
    assert_eq!(source.parsed.parses(), 2);
}

#[test]
fn secrets_are_read_again_even_when_the_file_is_not_parsed_again() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(&dir, "client", "first-value\n");
    let text = config().replace("SECRET_FILE", secret.to_str().unwrap());
    let source = FileSource {
        path: write(&dir, "c.yaml", &text),
        cookie_secrets: vec!["a-cookie-secret-of-length".into()],
        ..Default::default()
    };
    let a = source.load_now().unwrap();
    write(&dir, "client", "rotated-value\n");
    let b = source.load_now().unwrap();
    assert_eq!(source.parsed.parses(), 1);
    assert_eq!(
        b.secrets["team/idp"].client_secret.as_deref(),
        Some("rotated-value")
    );
    assert_ne!(a.fingerprint, b.fingerprint);
}

#[test]
fn a_redis_stores_password_and_ca_bundle_are_read_and_fingerprinted() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(&dir, "client", "s3cret-value\n");
    let password = write(&dir, "redis-pw", "redis-pw-value\n");
    let ca = write(&dir, "ca.pem", "-----BEGIN CERTIFICATE-----\nAA==\n");
    let store = format!(
        "    session: {{ cookieName: app, lifetimeSeconds: 3600, idleTimeoutSeconds: 0, store: {{ redis: {{ urls: [\"rediss://r:6379\"], password: {{ file: {} }}, caBundle: {{ file: {} }} }} }} }}\n",
        password.display(),
        ca.display()
    );
    let text = format!(
        "{}{store}",
        config().replace("SECRET_FILE", secret.to_str().unwrap())
    );
    let config = write(&dir, "c.yaml", &text);
    let cookie = write(&dir, "cookie", "0123456789abcdef0123\n");
    let source = FileSource {
        path: config.clone(),
        cookie_secret_files: vec![cookie],
        ..Default::default()
    };
    let a = source.load_now().unwrap();
    let s = &a.store_secrets["team/app"];
    assert_eq!(s.password.as_deref(), Some("redis-pw-value"));
    assert!(s.ca_bundle.as_deref().unwrap().starts_with("-----BEGIN"));
    assert!(!format!("{s:?}").contains("redis-pw-value"));
    // A new CA (renewed certificate authority) is a new snapshot: a new client.
    write(&dir, "ca.pem", "-----BEGIN CERTIFICATE-----\nBB==\n");
    assert_ne!(source.load_now().unwrap().fingerprint, a.fingerprint);
    // A CA file that cannot be read names the field.
    std::fs::remove_file(&ca).unwrap();
    let err = source.load_now().unwrap_err().to_string();
    assert!(
        err.contains("routes[0].session.store.redis.caBundle"),
        "{err}"
    );
}

#[test]
fn a_cluster_failure_keeps_its_cause_and_counts_as_what_it_is() {
    use super::super::cluster_config::ClusterConfigError;
    let shard_unparsable = SourceError::Cluster {
        origin: "configmaps in sys".into(),
        source: std::sync::Arc::new(ClusterConfigError::Config(ConfigError::Parse {
            origin: "configmaps in sys/portcullis-config-0-of-1".into(),
            message: "did not find expected node content".into(),
        })),
    };
    assert_eq!(shard_unparsable.metric_label(), "parse");
    let text = shard_unparsable.to_string();
    assert!(
        text.starts_with("cannot read configmaps in sys: ")
            && text.contains("portcullis-config-0-of-1"),
        "{text}"
    );
    // The cause is reachable as an error, not only as text.
    let cause = std::error::Error::source(&shard_unparsable).expect("a source");
    assert!(
        cause
            .to_string()
            .contains("did not find expected node content")
    );
    let api_down = SourceError::Cluster {
        origin: "configmaps in sys".into(),
        source: std::sync::Arc::new(ClusterConfigError::Kube(
            kube::Error::LinesCodecMaxLineLengthExceeded,
        )),
    };
    assert_eq!(api_down.metric_label(), "read");
}
