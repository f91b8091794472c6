//! A small per-address token bucket (for starting sign-ins, so a burst of bots cannot spend
//! the company's IdP rate limit; for writing refusals to the audit log), and what counts as
//! one address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

/// What limits count as one client: an IPv4 address, or the /64 of an IPv6 address (one
/// subscriber's network, in which its owner may pick any address at will).
pub fn address_prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// [`address_prefix`] as text, for counters and audit rows: `192.0.2.7` or `2001:db8:1:2::/64`.
pub fn address_label(ip: IpAddr) -> String {
    match address_prefix(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// `capacity` requests at once, refilled at `per_minute`.
    pub fn new(capacity: u32, per_minute: u32) -> Self {
        RateLimiter {
            capacity: f64::from(capacity),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn allow(&self, ip: IpAddr) -> bool {
        let ip = address_prefix(ip);
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        if buckets.len() > 100_000 {
            let (cap, rate) = (self.capacity, self.per_second);
            buckets.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * rate < cap);
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.capacity, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_per_address() {
        let rl = RateLimiter::new(3, 1);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        assert!(rl.allow(a) && rl.allow(a) && rl.allow(a));
        assert!(!rl.allow(a));
        assert!(rl.allow(b));
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let rl = RateLimiter::new(2, 1);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(rl.allow(ip("2001:db8:1:2::1")) && rl.allow(ip("2001:db8:1:2:ffff::9")));
        assert!(!rl.allow(ip("2001:db8:1:2:abcd::1")), "same /64");
        assert!(rl.allow(ip("2001:db8:1:3::1")), "the next /64 is another");
        assert_eq!(
            address_label(ip("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(address_label(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(address_label(ip("192.0.2.7")), "192.0.2.7");
    }
}
