//! Which browser origins may read the service's answers (`CORS_ALLOWED_ORIGINS`). Off by default;
//! credentials (cookies) are never allowed, since the key travels in a header.

/// The origins allowed to read answers across origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin.
    Any,
    /// Exactly these origins (`scheme://host[:port]`, lower-cased).
    Only(Vec<String>),
}

impl CorsOrigins {
    /// Parses `*` or a comma-separated list of origins such as `https://app.example.com,
    /// http://localhost:3000`. A path, a query, a wildcard inside a list or anything but http(s)
    /// is refused: a browser sends origins in exactly that form, so nothing else could match.
    pub fn parse(list: &str) -> Result<Self, String> {
        if list.trim() == "*" {
            return Ok(CorsOrigins::Any);
        }
        let mut origins = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            origins.push(origin(item).ok_or_else(|| {
                format!(
                    "{item:?} is not an origin: give scheme://host[:port] with no path, or * alone"
                )
            })?);
        }
        if origins.is_empty() {
            return Err("names no origin: give origins separated by commas, or *".into());
        }
        Ok(CorsOrigins::Only(origins))
    }

    /// Whether `origin` (an `Origin` header's value) may read answers.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            CorsOrigins::Any => true,
            CorsOrigins::Only(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

impl std::fmt::Display for CorsOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CorsOrigins::Any => f.write_str("*"),
            CorsOrigins::Only(list) => f.write_str(&list.join(",")),
        }
    }
}

/// `item` as an origin, lower-cased, if it is one.
fn origin(item: &str) -> Option<String> {
    let (scheme, rest) = item.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => (host, Some(port)),
        _ => (rest, None),
    };
    let plain_host = !host.is_empty()
        && (host.starts_with('[') && host.ends_with(']')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
    let good_port = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    (plain_host && good_port).then(|| item.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_parsed_strictly() {
        assert_eq!(CorsOrigins::parse(" * ").unwrap(), CorsOrigins::Any);
        let list = CorsOrigins::parse("https://App.example.com, http://localhost:3000").unwrap();
        assert!(list.allows("https://app.example.com"));
        assert!(list.allows("http://localhost:3000"));
        assert!(!list.allows("http://localhost:3001"));
        assert!(!list.allows("https://evil.example.com"));
        assert!(CorsOrigins::parse("http://[::1]:8080").is_ok());
        for bad in [
            "",
            " , ",
            "example.com",
            "https://example.com/",
            "https://example.com/app",
            "ftp://example.com",
            "https://*.example.com",
            "https://example.com:http",
            "https://example.com, *",
            "null",
        ] {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
