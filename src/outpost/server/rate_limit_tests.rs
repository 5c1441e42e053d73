use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const SEC: u64 = 1_000_000_000;

fn limit(per_minute: u32, burst: u32) -> LoginRateLimit {
    LoginRateLimit {
        requests_per_minute: per_minute,
        burst,
    }
}

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

#[test]
fn a_burst_passes_then_the_rate_holds_and_retry_after_is_honest() {
    let l = LoginLimiter::default();
    let q = limit(60, 5);
    for i in 0..5 {
        assert_eq!(l.check_at("r", v4(1), &q, 0), Ok(()), "request {i}");
    }
    assert_eq!(l.check_at("r", v4(1), &q, 0), Err(1));
    // One a second after that: waiting what Retry-After said is enough...
    assert_eq!(l.check_at("r", v4(1), &q, SEC), Ok(()));
    assert_eq!(l.check_at("r", v4(1), &q, SEC), Err(1));
    // ...and a refused request does not push the next one further out.
    for _ in 0..100 {
        assert!(l.check_at("r", v4(1), &q, SEC + 1).is_err());
    }
    assert_eq!(l.check_at("r", v4(1), &q, 2 * SEC), Ok(()));
    // After a quiet minute the whole burst is back.
    for _ in 0..5 {
        assert_eq!(l.check_at("r", v4(1), &q, 70 * SEC), Ok(()));
    }
}

#[test]
fn retry_after_counts_whole_seconds_up() {
    let l = LoginLimiter::default();
    let q = limit(6, 1); // one per 10 s
    assert_eq!(l.check_at("r", v4(1), &q, 0), Ok(()));
    assert_eq!(l.check_at("r", v4(1), &q, SEC / 2), Err(10));
    assert_eq!(l.check_at("r", v4(1), &q, 9 * SEC + 1), Err(1));
    assert_eq!(l.check_at("r", v4(1), &q, 10 * SEC), Ok(()));
}

#[test]
fn addresses_and_routes_have_their_own_buckets_and_zero_switches_it_off() {
    let l = LoginLimiter::default();
    let q = limit(60, 1);
    assert!(l.check_at("a", v4(1), &q, 0).is_ok());
    assert!(l.check_at("a", v4(1), &q, 0).is_err());
    assert!(l.check_at("a", v4(2), &q, 0).is_ok(), "another address");
    assert!(l.check_at("b", v4(1), &q, 0).is_ok(), "another route");
    let off = limit(0, 0);
    for _ in 0..1_000 {
        assert!(l.check_at("a", v4(1), &off, 0).is_ok());
    }
}

#[test]
fn ipv6_counts_per_64_and_mapped_ipv4_is_ipv4() {
    let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
    let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(bucket(IpAddr::V6(a)), bucket(IpAddr::V6(b)));
    assert_ne!(bucket(IpAddr::V6(a)), bucket(IpAddr::V6(other)));
    let mapped: Ipv6Addr = "::ffff:192.0.2.7".parse().unwrap();
    assert_eq!(
        bucket(IpAddr::V6(mapped)),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))
    );
    let l = LoginLimiter::default();
    let q = limit(60, 1);
    assert!(l.check_at("r", IpAddr::V6(a), &q, 0).is_ok());
    assert!(
        l.check_at("r", IpAddr::V6(b), &q, 0).is_err(),
        "a /64 is one bucket: rotating the low bits does not help"
    );
}

#[test]
fn a_flood_of_distinct_addresses_stays_bounded() {
    let l = LoginLimiter::default();
    let q = limit(60, 10);
    // 3x the bound, all within one second: none of them is back to fresh yet.
    for n in 0..(3 * MAX_KEYS as u32) {
        let _ = l.check_at("r", v4(n), &q, u64::from(n) * 3_000);
    }
    assert!(l.len() <= MAX_KEYS, "{} keys", l.len());
    // The most recent addresses are still limited.
    let last = v4(3 * MAX_KEYS as u32 - 1);
    for _ in 0..9 {
        let _ = l.check_at("r", last, &q, SEC);
    }
    assert!(l.check_at("r", last, &q, SEC).is_err());
}
