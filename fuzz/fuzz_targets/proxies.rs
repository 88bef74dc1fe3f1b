//! `TRUSTED_PROXIES` and `X-Forwarded-For`: any list is parsed or refused, never a panic; what
//! is parsed prints back as a list that parses to the same; and the client address is always the
//! peer or one of the forwarded hops, the peer whenever the header is absent or no proxy is trusted.
//!
//! The input's lines: the `TRUSTED_PROXIES` list, the peer's address, then one
//! `X-Forwarded-For` value per line, as bytes.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use sentiment_api::limits::TrustedProxies;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let list = lines.next().unwrap_or_default();
    let Ok(trusted) = TrustedProxies::parse(list) else {
        return;
    };
    let shown = trusted.to_string();
    assert_eq!(
        TrustedProxies::parse(&shown).as_ref(),
        Ok(&trusted),
        "{list:?} printed as {shown:?}"
    );

    let peer: IpAddr = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(IpAddr::from([10, 1, 2, 3]));
    let values: Vec<&[u8]> = lines.map(str::as_bytes).collect();
    let client = trusted.client(peer, values.iter().copied());
    // Hops as the proxies list reads them: an address, perhaps with a port, taken canonically
    // (`::ffff:a.b.c.d` is `a.b.c.d`), as the peer is.
    let hops: Vec<IpAddr> = values
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| {
            let hop = hop.trim_matches(|c: char| c.is_ascii_whitespace());
            hop.parse::<IpAddr>()
                .ok()
                .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        })
        .map(|ip| ip.to_canonical())
        .collect();
    let peer = peer.to_canonical();
    assert!(
        client == peer || hops.contains(&client),
        "{client} is neither the peer nor a hop"
    );
    assert_eq!(trusted.client(peer, std::iter::empty()), peer);
    assert_eq!(
        TrustedProxies::default().client(peer, values.iter().copied()),
        peer
    );
});
