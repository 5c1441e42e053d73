use super::*;

fn parse(yaml: &str) -> StoreConfig {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn cookie_is_the_default() {
    assert!(StoreConfig::default().is_cookie());
    assert!(parse("{}").is_cookie());
    assert!(serde_yaml::from_str::<StoreConfig>("{memcached: {}}").is_err());
}

#[test]
fn redis_standalone_sentinel_and_cluster_parse_and_check() {
    let StoreConfig { redis: Some(r) } = parse("redis: { urls: [\"redis://127.0.0.1:6379/2\"] }")
    else {
        panic!("not redis");
    };
    assert_eq!(r.mode, RedisMode::Standalone);
    assert_eq!(r.key_prefix, "portcullis");
    assert_eq!(r.timeout_millis, 500);
    r.check().unwrap();

    let StoreConfig { redis: Some(s) } = parse(
        "redis: { mode: sentinel, masterName: mymaster, urls: [\"redis://s1:26379\", \"redis://s2:26379\"], password: { file: /run/pw } }",
    ) else {
        panic!("not redis");
    };
    assert_eq!(s.mode, RedisMode::Sentinel);
    assert_eq!(s.master_name.as_deref(), Some("mymaster"));
    assert_eq!(
        s.password.as_ref().unwrap().file.as_deref(),
        Some("/run/pw")
    );
    s.check().unwrap();

    let StoreConfig { redis: Some(c) } = parse(
        "redis: { mode: cluster, urls: [\"rediss://n1:6379\", \"rediss://n2:6379\"], caBundle: { file: /etc/ca.pem } }",
    ) else {
        panic!("not redis");
    };
    assert_eq!(c.mode, RedisMode::Cluster);
    assert_eq!(
        c.ca_bundle.as_ref().unwrap().file.as_deref(),
        Some("/etc/ca.pem")
    );
    c.check().unwrap();
}

#[test]
fn bad_addressing_names_the_field_and_the_fix() {
    let base = RedisConfig::standalone("redis://127.0.0.1:6379");
    let cases: Vec<(RedisConfig, &str, &str)> = vec![
        (
            RedisConfig {
                urls: vec![],
                ..base.clone()
            },
            "urls",
            "at least one",
        ),
        (
            RedisConfig::standalone("http://127.0.0.1:6379"),
            "urls",
            "rediss://",
        ),
        (
            RedisConfig::standalone("redis://user:hunter2@127.0.0.1:6379"),
            "urls",
            "carries credentials",
        ),
        (
            RedisConfig::standalone("redis://127.0.0.1:6379/zero"),
            "urls",
            "database number",
        ),
        (
            RedisConfig {
                urls: vec!["redis://a:1".into(), "redis://b:1".into()],
                ..base.clone()
            },
            "urls",
            "mode: sentinel or cluster",
        ),
        (
            RedisConfig {
                mode: RedisMode::Sentinel,
                ..base.clone()
            },
            "masterName",
            "mymaster",
        ),
        (
            RedisConfig {
                master_name: Some("m".into()),
                ..base.clone()
            },
            "masterName",
            "only used in sentinel mode",
        ),
        (
            RedisConfig {
                key_prefix: "a b".into(),
                ..base.clone()
            },
            "keyPrefix",
            "without spaces",
        ),
        (
            RedisConfig {
                timeout_millis: 0,
                ..base.clone()
            },
            "timeoutMillis",
            "between",
        ),
        (
            // A CA for a server reached without TLS: a mistake, not a no-op.
            RedisConfig {
                ca_bundle: Some(SecretSource {
                    file: Some("/etc/redis-ca.pem".into()),
                    ..SecretSource::default()
                }),
                ..base.clone()
            },
            "caBundle",
            "rediss://",
        ),
    ];
    for (config, field, words) in cases {
        let (at, message) = config.check().unwrap_err();
        assert_eq!(at, field, "{message}");
        assert!(message.contains(words), "{field}: {message}");
        assert!(!message.contains("hunter2"), "password leaked: {message}");
    }
}

#[test]
fn unknown_fields_are_refused() {
    let err = serde_yaml::from_str::<StoreConfig>("redis: { urls: [\"redis://a:1\"], pasword: x }")
        .unwrap_err()
        .to_string();
    assert!(err.contains("pasword"), "{err}");
}
