use std::net::IpAddr;

/// Addresses whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`): single addresses or CIDR blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses a comma-separated list such as `10.0.0.1, 192.168.0.0/16, ::1`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("{item:?} is not an IP address or CIDR block"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("{item:?} has a bad prefix length"))?,
            };
            nets.push((addr, bits));
        }
        Ok(TrustedProxies(nets))
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the right-most
    /// address of `X-Forwarded-For` that is not itself a trusted proxy (the left-most can be
    /// forged). `forwarded_for` holds the header's values in the order received, as bytes: a
    /// proxy appends the address it saw to whatever the client sent, so bytes that are not text
    /// on the left must not hide a good hop on the right. A hop may carry a port
    /// (`203.0.113.9:4711`, `[2001:db8::1]:4711`); one that is no address ends the walk. IPv4
    /// peers of a dual-stack listener (`::ffff:a.b.c.d`) are taken as the IPv4 address they are.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        for value in forwarded_for.rev() {
            for hop in value.rsplit(|b| *b == b',') {
                match hop_address(hop) {
                    Some(ip) if self.contains(ip) => client = ip,
                    Some(ip) => return ip,
                    None => return client,
                }
            }
        }
        client
    }

    /// Whether no proxy is trusted (`TRUSTED_PROXIES` unset or empty).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (taken canonically: `::ffff:10.0.0.1` is `10.0.0.1`) is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|(net, bits)| in_net(ip, *net, *bits))
    }

    /// The blocks, as parsed.
    pub fn blocks(&self) -> &[(IpAddr, u8)] {
        &self.0
    }
}

/// One hop of `X-Forwarded-For`: an address, perhaps with a port; `None` for anything else.
fn hop_address(hop: &[u8]) -> Option<IpAddr> {
    let hop = std::str::from_utf8(hop.trim_ascii()).ok()?;
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let with_port: std::net::SocketAddr = hop.parse().ok()?;
    Some(with_port.ip().to_canonical())
}

impl std::fmt::Display for TrustedProxies {
    /// The list as `TRUSTED_PROXIES` takes it, each block with its prefix length.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (net, bits)) in self.0.iter().enumerate() {
            write!(f, "{}{net}/{bits}", if i == 0 { "" } else { ", " })?;
        }
        Ok(())
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn client(trusted: &TrustedProxies, peer: &str, values: &[&[u8]]) -> IpAddr {
        trusted.client(ip(peer), values.iter().copied())
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, ::1").unwrap();
        let header: &[&[u8]] = &[b"6.6.6.6, 203.0.113.9, 10.0.0.7"];
        assert_eq!(client(&trusted, "10.1.2.3", header), ip("203.0.113.9"));
        assert_eq!(
            client(&trusted, "198.51.100.1", &[b"203.0.113.9"]),
            ip("198.51.100.1")
        );
        assert_eq!(client(&trusted, "10.1.2.3", &[]), ip("10.1.2.3"));
    }

    #[test]
    fn several_header_values_are_read_last_first_and_garbage_stops_the_walk() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let values: &[&[u8]] = &[b"203.0.113.1", b"10.0.0.8, 10.0.0.9"];
        assert_eq!(client(&trusted, "10.1.2.3", values), ip("203.0.113.1"));
        let garbage: &[&[u8]] = &[b"203.0.113.1", b"not-an-ip, 10.0.0.9"];
        assert_eq!(client(&trusted, "10.1.2.3", garbage), ip("10.0.0.9"));
    }

    #[test]
    fn a_non_ascii_byte_the_client_sent_does_not_hide_the_address_the_proxy_appended() {
        // nginx's `$proxy_add_x_forwarded_for`: the client's bytes, then the address it saw.
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let value: &[&[u8]] = &[b"caf\xe9, 203.0.113.5"];
        assert_eq!(client(&trusted, "10.1.2.3", value), ip("203.0.113.5"));
        let raw: &[&[u8]] = &[&[
            0xff, b',', b' ', b'2', b'0', b'3', b'.', b'0', b'.', b'1', b'1', b'3', b'.', b'5',
        ]];
        assert_eq!(client(&trusted, "10.1.2.3", raw), ip("203.0.113.5"));
        // Garbage to the right of every good hop still ends the walk at the proxy.
        let last: &[&[u8]] = &[&[
            b'2', b'0', b'3', b'.', b'0', b'.', b'1', b'1', b'3', b'.', b'5', b',', 0xff,
        ]];
        assert_eq!(client(&trusted, "10.1.2.3", last), ip("10.1.2.3"));
    }

    #[test]
    fn a_hop_with_a_port_is_its_address() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let v4: &[&[u8]] = &[b"203.0.113.5:4711, 10.0.0.9:80"];
        assert_eq!(client(&trusted, "10.1.2.3", v4), ip("203.0.113.5"));
        let v6: &[&[u8]] = &[b"[2001:db8::1]:4711"];
        assert_eq!(client(&trusted, "10.1.2.3", v6), ip("2001:db8::1"));
    }

    #[test]
    fn a_dual_stack_listener_sees_an_ipv4_proxy_as_that_proxy() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let value: &[&[u8]] = &[b"203.0.113.5"];
        assert_eq!(
            client(&trusted, "::ffff:127.0.0.1", value),
            ip("203.0.113.5")
        );
        assert_eq!(
            client(
                &trusted,
                "::ffff:10.9.9.9",
                &[b"::ffff:10.1.1.1, 198.51.100.7"]
            ),
            ip("198.51.100.7")
        );
        // An untrusted mapped peer is counted as its IPv4 address.
        assert_eq!(
            client(&trusted, "::ffff:198.51.100.7", value),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }
}
