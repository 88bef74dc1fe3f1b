//! Where a request's key is: `X-API-Key: <key>` (FastAPI's `APIKeyHeader`), or
//! `Authorization: Bearer <key>` (what many HTTP clients and SDKs send). Pure header reading;
//! the `ApiKey` extractor checks what this finds.

use actix_web::http::header::{HeaderMap, HeaderName, AUTHORIZATION};
use constant_time_eq::constant_time_eq;

/// The header that carries the key (matched case-insensitively, as every HTTP header is).
pub const API_KEY_HEADER: &str = "x-api-key";

/// What a request's headers present as its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// One key (from either header, or the same key in both), trimmed.
    Key(&'a [u8]),
    /// Neither header holds a key (absent, empty or blank; an `Authorization` of another scheme
    /// is not a key of ours and is left alone, as a proxy's `Basic` credentials may be there).
    Missing,
    /// `X-API-Key` sent more than once.
    DuplicateApiKey,
    /// `Authorization` sent more than once, a `Bearer` among them.
    DuplicateAuthorization,
    /// `X-API-Key` and `Authorization: Bearer` hold different keys: no guessing which counts.
    Conflicting,
}

/// Reads the key a request presents.
pub fn presented_key(headers: &HeaderMap) -> Presented<'_> {
    // A constant name: looking a header up by `&str` parses the name again on every request.
    const HEADER: HeaderName = HeaderName::from_static(API_KEY_HEADER);
    let Some(api_key) = single(headers, &HEADER) else {
        return Presented::DuplicateApiKey;
    };
    let api_key = api_key.map(<[u8]>::trim_ascii).filter(|k| !k.is_empty());
    let bearer = match single(headers, &AUTHORIZATION) {
        Some(authorization) => authorization.and_then(bearer_token),
        // Refused only when one of them is ours: before Bearer was taken, a request with its key
        // in `X-API-Key` passed whatever else `Authorization` held, and still does.
        None if headers
            .get_all(AUTHORIZATION)
            .any(|v| bearer_token(v.as_bytes()).is_some()) =>
        {
            return Presented::DuplicateAuthorization;
        }
        None => None,
    };
    match (api_key, bearer) {
        (None, None) => Presented::Missing,
        (Some(key), None) | (None, Some(key)) => Presented::Key(key),
        // Both come from the client; compared in constant time all the same, as every key is.
        (Some(a), Some(b)) if constant_time_eq(a, b) => Presented::Key(a),
        (Some(_), Some(_)) => Presented::Conflicting,
    }
}

/// The value of `name` when it is sent at most once; `None` when it is sent more than once.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<Option<&'a [u8]>> {
    let mut values = headers.get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return None;
    }
    Some(first.map(|v| v.as_bytes()))
}

/// Every key a request carries, however it is sent (each `X-API-Key`, each Bearer token), valid
/// or not, sent once or twice: whatever must never be echoed or logged (see the request id).
pub fn every_presented_key(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    let api_keys = headers
        .get_all(API_KEY_HEADER)
        .map(|key| key.as_bytes().trim_ascii());
    let bearers = headers
        .get_all(AUTHORIZATION)
        .filter_map(|value| bearer_token(value.as_bytes()));
    api_keys.chain(bearers).filter(|key| !key.is_empty())
}

/// The token of `Bearer <token>` (scheme in any case, RFC 9110), trimmed; `None` for another
/// scheme or an empty token.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer")
        || !rest.first().is_some_and(|&b| b == b' ' || b == b'\t')
    {
        return None;
    }
    Some(rest.trim_ascii()).filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn read(pairs: &[(&str, &str)]) -> Presented<'static> {
        let map = Box::leak(Box::new(headers(pairs)));
        presented_key(map)
    }

    #[test]
    fn either_header_carries_the_key() {
        assert_eq!(read(&[("X-API-Key", " k1 ")]), Presented::Key(b"k1"));
        assert_eq!(
            read(&[("Authorization", "Bearer k1")]),
            Presented::Key(b"k1")
        );
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            let value = format!("{scheme} \t k1 ");
            assert_eq!(
                read(&[("authorization", &value)]),
                Presented::Key(b"k1"),
                "{value}"
            );
        }
    }

    #[test]
    fn the_same_key_in_both_is_one_key_and_different_keys_conflict() {
        let same = [("X-API-Key", "k1"), ("Authorization", "Bearer k1")];
        assert_eq!(read(&same), Presented::Key(b"k1"));
        let different = [("X-API-Key", "k1"), ("Authorization", "Bearer k2")];
        assert_eq!(read(&different), Presented::Conflicting);
    }

    #[test]
    fn no_key_in_either_is_missing() {
        assert_eq!(read(&[]), Presented::Missing);
        for value in [
            "",
            "Bearer",
            "Bearer   ",
            "Bearerk1",
            "Basic dXNlcjpwdw==",
            "Token k1",
        ] {
            assert_eq!(
                read(&[("Authorization", value)]),
                Presented::Missing,
                "{value:?}"
            );
        }
        assert_eq!(read(&[("X-API-Key", "  ")]), Presented::Missing);
    }

    #[test]
    fn another_scheme_leaves_the_x_api_key_in_force() {
        let pairs = [("X-API-Key", "k1"), ("Authorization", "Basic dXNlcjpwdw==")];
        assert_eq!(read(&pairs), Presented::Key(b"k1"));
        let blank = [("X-API-Key", " "), ("Authorization", "Bearer k2")];
        assert_eq!(read(&blank), Presented::Key(b"k2"));
    }

    #[test]
    fn a_header_sent_twice_is_refused_whatever_it_holds() {
        let twice = [("X-API-Key", "k1"), ("X-API-Key", "k1")];
        assert_eq!(read(&twice), Presented::DuplicateApiKey);
        let twice = [("Authorization", "Bearer k1"), ("Authorization", "Basic x")];
        assert_eq!(read(&twice), Presented::DuplicateAuthorization);
        let theirs = [
            ("X-API-Key", "k1"),
            ("Authorization", "Basic x"),
            ("Authorization", "Basic y"),
        ];
        assert_eq!(read(&theirs), Presented::Key(b"k1"));
    }
}
