//! Which network addresses count as the public internet: an issuer a team admin types in the
//! browser must be on one, or the portal could be pointed at the machine's own services.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True for an address on the public internet; false for loopback, private (RFC 1918,
/// fc00::/7), link-local, unspecified, shared (CGNAT), documentation, benchmarking,
/// multicast, broadcast, 6to4 relay anycast and reserved ranges, Teredo (2001::/32) and
/// local-use NAT64 (64:ff9b:1::/48, translated by the site's own NAT64, possibly into
/// private space). IPv6 forms that embed an IPv4 address (mapped, compatible, well-known
/// NAT64 64:ff9b::/96, 6to4) are judged by that address.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                        // "this network", unspecified
        || a == 10                                  // RFC 1918
        || a == 127                                 // loopback
        || (a == 100 && (64..128).contains(&b))     // shared address space (CGNAT)
        || (a == 169 && b == 254)                   // link-local
        || (a == 172 && (16..32).contains(&b))      // RFC 1918
        || (a == 192 && b == 0 && c == 0)           // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)           // documentation
        || (a == 192 && b == 88 && c == 99)         // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)                   // RFC 1918
        || (a == 198 && (18..20).contains(&b))      // benchmarking
        || (a == 198 && b == 51 && c == 100)        // documentation
        || (a == 203 && b == 0 && c == 113)         // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00     // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80     // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0     // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00     // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0)      // Teredo 2001::/32: tunnels to any IPv4
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001) // local-use NAT64 64:ff9b:1::/48
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        || s[0] == 0) // the rest of ::/16: reserved
}

/// The IPv4 address inside an IPv6 one that carries it (mapped `::ffff:a.b.c.d`,
/// compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:a.b.c.d::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail());
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public_ip(s.parse().expect("ip"))
    }

    #[test]
    fn internet_addresses_are_public() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "64:ff9b::8.8.4.4",
            "192.88.98.1",
            "192.88.100.1",
            "2001:4860:4860::8888",
        ] {
            assert!(public(ip), "{ip}");
        }
    }

    #[test]
    fn loopback_private_link_local_and_reserved_addresses_are_not() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
        ] {
            assert!(!public(ip), "{ip}");
        }
    }

    #[test]
    fn local_use_nat64_is_not_public() {
        for ip in [
            "64:ff9b:1::",
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert!(!public(ip), "{ip}");
        }
    }

    #[test]
    fn teredo_is_not_public() {
        for ip in [
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert!(!public(ip), "{ip}");
        }
    }

    #[test]
    fn the_6to4_relay_anycast_range_is_not_public() {
        for ip in [
            "192.88.99.0",
            "192.88.99.1",
            "192.88.99.255",
            "::ffff:192.88.99.1",
        ] {
            assert!(!public(ip), "{ip}");
        }
    }

    #[test]
    fn well_known_nat64_is_judged_by_the_embedded_ipv4_address() {
        for ip in [
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::172.16.0.1",
            "64:ff9b::192.168.1.1",
            "64:ff9b::100.64.0.1",
            "64:ff9b::169.254.169.254",
            "64:ff9b::0.0.0.0",
            "64:ff9b::192.88.99.1",
        ] {
            assert!(!public(ip), "{ip}");
        }
        assert!(public("64:ff9b::1.1.1.1"));
    }
}
