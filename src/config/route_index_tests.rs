use super::*;

/// The scan every request used to run: kept here as the oracle the index must agree with.
fn linear_scan<'a>(routes: &'a [RouteConfig], host: &str, path: &str) -> Option<&'a RouteConfig> {
    let host = host.to_ascii_lowercase();
    routes
        .iter()
        .filter(|r| r.hosts.contains(&host))
        .filter_map(|r| {
            let best = r
                .paths
                .iter()
                .filter(|p| path_has_prefix(path, p))
                .map(|p| p.trim_end_matches('/').len())
                .max()?;
            Some((best, r))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, r)| r)
}

fn route(id: &str, hosts: &[&str], paths: &[&str]) -> RouteConfig {
    RouteConfig {
        id: id.into(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        ..RouteConfig::default()
    }
}

fn found<'a>(routes: &'a [RouteConfig], host: &str, path: &str) -> Option<&'a str> {
    RouteIndex::new(routes)
        .find(host, path)
        .map(|i| routes[i].id.as_str())
}

/// splitmix64: a fixed, seedable sequence, so a failure names a case that reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn some<'a>(&mut self, from: &[&'a str], most: u64) -> Vec<&'a str> {
        (0..self.next() % (most + 1))
            .map(|_| self.pick(from))
            .collect()
    }
}

// Hosts with ports, an upper-case one (validation refuses it; the scan never matched it)
// and near misses; prefixes with trailing slashes, `//`, an empty one (also refused by
// validation) and segment-boundary traps.
const HOSTS: &[&str] = &[
    "a.test",
    "b.test",
    "a.test:8443",
    "A.test",
    "sub.a.test",
    "",
];
const PREFIXES: &[&str] = &[
    "/", "/api", "/api/", "/api/v1", "/apix", "//", "/a/b/", "/a", "", "/API",
];
const REQUEST_HOSTS: &[&str] = &[
    "a.test",
    "A.TEST",
    "b.test",
    "a.test:8443",
    "c.test",
    "sub.a.test",
    "",
];
const REQUEST_PATHS: &[&str] = &[
    "/",
    "/api",
    "/api/",
    "/api/x",
    "/apix",
    "/apix/y",
    "/api/v1",
    "/api/v1/z",
    "/api/v10",
    "/a/b",
    "/a/bc",
    "/a",
    "//",
    "",
    "x",
    "/API/x",
];

#[test]
fn the_index_picks_what_the_linear_scan_picks_on_random_route_sets() {
    for seed in 0..2_000u64 {
        let mut rng = Rng(seed);
        let routes: Vec<RouteConfig> = (0..1 + rng.next() % 8)
            .map(|i| {
                let hosts = rng.some(HOSTS, 3);
                let paths = rng.some(PREFIXES, 3);
                route(&format!("r{i}"), &hosts, &paths)
            })
            .collect();
        let index = RouteIndex::new(&routes);
        for host in REQUEST_HOSTS {
            for path in REQUEST_PATHS {
                let oracle = linear_scan(&routes, host, path).map(|r| r as *const RouteConfig);
                let got = index
                    .find(host, path)
                    .map(|i| &routes[i] as *const RouteConfig);
                assert_eq!(
                    got, oracle,
                    "seed {seed}: host {host:?} path {path:?} over {routes:#?}"
                );
            }
        }
    }
}

#[test]
fn the_longest_prefix_wins_whatever_the_order_of_the_routes() {
    let routes = [
        route("root", &["app.test"], &["/"]),
        route("api", &["app.test"], &["/api/"]),
        route("v1", &["app.test"], &["/api/v1"]),
    ];
    let mut reversed = routes.clone();
    reversed.reverse();
    for routes in [&routes[..], &reversed[..]] {
        assert_eq!(found(routes, "app.test", "/api/v1/x"), Some("v1"));
        assert_eq!(found(routes, "app.test", "/api/v10"), Some("api"));
        assert_eq!(found(routes, "app.test", "/apix"), Some("root"));
        assert_eq!(found(routes, "app.test", "/"), Some("root"));
    }
}

#[test]
fn equal_prefixes_go_to_the_later_route_as_before() {
    let routes = [
        route("first", &["app.test"], &["/x"]),
        route("second", &["app.test", "other.test"], &["/x/"]),
    ];
    assert_eq!(found(&routes, "app.test", "/x/y"), Some("second"));
    assert_eq!(found(&routes, "other.test", "/x"), Some("second"));
    assert_eq!(found(&routes, "other.test", "/y"), None);
}

#[test]
fn hosts_match_exactly_ignoring_the_request_hosts_case() {
    let routes = [
        route("app", &["app.test"], &["/"]),
        route("port", &["app.test:8443"], &["/"]),
    ];
    assert_eq!(found(&routes, "APP.Test", "/"), Some("app"));
    assert_eq!(found(&routes, "app.test:8443", "/"), Some("port"));
    assert_eq!(found(&routes, "app.test:80", "/"), None);
    assert_eq!(
        found(&routes, "x.app.test", "/"),
        None,
        "no suffix matching"
    );
    assert_eq!(found(&routes, "test", "/"), None);
}

#[test]
fn a_route_without_paths_serves_nothing_and_a_repeated_host_counts_once() {
    let routes = [
        route("empty", &["app.test"], &[]),
        route("twice", &["b.test", "b.test"], &["/", "/"]),
    ];
    let index = RouteIndex::new(&routes);
    assert_eq!(index.find("app.test", "/"), None);
    assert_eq!(index.find("b.test", "/z"), Some(1));
    assert_eq!(index.hosts(), 2);
    assert_eq!(index.by_host["b.test"].len(), 2);
}

#[test]
fn ten_thousand_routes_each_find_their_own() {
    let routes: Vec<RouteConfig> = (0..10_000)
        .map(|i| route(&format!("r{i}"), &[&format!("app-{i}.test")], &["/"]))
        .collect();
    let index = RouteIndex::new(&routes);
    assert_eq!(index.hosts(), 10_000);
    for i in (0..10_000).step_by(97) {
        assert_eq!(index.find(&format!("app-{i}.test"), "/x"), Some(i));
    }
    assert_eq!(index.find("app-10000.test", "/"), None);
}
