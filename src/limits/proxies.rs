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
    /// forged). `forwarded_for` holds the header's values in the order received; a value that is
    /// not text (`None`) ends the walk, as an unparsable hop does.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = Option<&'a str>>,
    ) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        for value in forwarded_for.rev() {
            let Some(value) = value else { break };
            for hop in value.rsplit(',') {
                match hop.trim().parse::<IpAddr>() {
                    Ok(ip) if self.contains(ip) => client = ip,
                    Ok(ip) => return ip,
                    Err(_) => return client,
                }
            }
        }
        client
    }

    /// Whether no proxy is trusted (`TRUSTED_PROXIES` unset or empty).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(net, bits)| in_net(ip, *net, *bits))
    }
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

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, ::1").unwrap();
        let header = [Some("6.6.6.6, 203.0.113.9, 10.0.0.7")];
        assert_eq!(
            trusted.client(ip("10.1.2.3"), header.into_iter()),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client(ip("198.51.100.1"), [Some("203.0.113.9")].into_iter()),
            ip("198.51.100.1")
        );
        assert_eq!(
            trusted.client(ip("10.1.2.3"), [].into_iter()),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn several_header_values_are_read_last_first_and_garbage_stops_the_walk() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let values = [Some("203.0.113.1"), Some("10.0.0.8, 10.0.0.9")];
        assert_eq!(
            trusted.client(ip("10.1.2.3"), values.into_iter()),
            ip("203.0.113.1")
        );
        let garbage = [Some("203.0.113.1"), Some("not-an-ip, 10.0.0.9")];
        assert_eq!(
            trusted.client(ip("10.1.2.3"), garbage.into_iter()),
            ip("10.0.0.9")
        );
        let opaque = [Some("203.0.113.1"), None];
        assert_eq!(
            trusted.client(ip("10.1.2.3"), opaque.into_iter()),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }
}
