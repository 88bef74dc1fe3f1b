//! The route table as data: each route's method, path template, access and whether the OpenAPI
//! document lists it; and the log-safe form of a request path. The lowest layer: the metrics, the
//! middleware and the handlers' registration all read it, and it reads nothing of theirs.

use std::borrow::Cow;

/// Whether a route needs an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone may call it.
    Public,
    /// The handler takes an `ApiKey`.
    Protected,
}

/// A group of protected routes a key may be limited to (a keys-file entry's `scopes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `/predict` and `/predict/batch`.
    Predict,
    /// `/analyze_batch` and `/jobs/{job_id}`.
    Jobs,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 2] = [Scope::Predict, Scope::Jobs];

    /// The scope's name in a keys file and in `/me`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Predict => "predict",
            Scope::Jobs => "jobs",
        }
    }

    /// The scope called `name`.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What a request on a route costs its key on arrival, spent by the authorization step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Nothing (the quota is only shown).
    Free,
    /// One unit of the key's rate limit (a batch settles the rest).
    Metered,
    /// No unit, but one poll of the job poll limit.
    Poll,
}

/// Names a route, so the routes module can give each its handler with an exhaustive `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    /// `POST /predict`
    Predict,
    /// `POST /predict/batch`
    PredictBatch,
    /// `POST /analyze_batch`
    AnalyzeBatch,
    /// `GET /jobs/{job_id}`
    Job,
    /// `GET /me`
    Me,
    /// `GET /models`
    Models,
    /// `GET /health`
    Health,
    /// `GET /health/ready`
    Ready,
    /// `GET /metrics`
    Metrics,
    /// `GET /openapi.json`
    OpenApi,
    /// `GET /docs`
    DocsPage,
    /// `GET /docs/{file}`
    DocsAsset,
}

/// One route: method, path (actix pattern), access, and whether the OpenAPI document lists it.
#[derive(Debug)]
pub struct RouteSpec {
    /// Which route.
    pub id: RouteId,
    /// HTTP method, upper case.
    pub method: &'static str,
    /// actix path pattern, such as `/jobs/{job_id}`.
    pub path: &'static str,
    /// Whether it needs a key.
    pub access: Access,
    /// The scope a key needs for it, if any (`/me` and `/models` need none).
    pub scope: Option<Scope>,
    /// What a request costs on arrival (protected routes only).
    pub cost: Cost,
    /// Whether `/openapi.json` documents it (the documentation routes themselves are not).
    pub documented: bool,
}

const fn route(id: RouteId, method: &'static str, path: &'static str, access: Access) -> RouteSpec {
    RouteSpec {
        id,
        method,
        path,
        access,
        scope: None,
        cost: Cost::Free,
        documented: true,
    }
}

const fn scoped(
    id: RouteId,
    method: &'static str,
    path: &'static str,
    scope: Scope,
    cost: Cost,
) -> RouteSpec {
    RouteSpec {
        scope: Some(scope),
        cost,
        ..route(id, method, path, Access::Protected)
    }
}

const fn undocumented(id: RouteId, path: &'static str) -> RouteSpec {
    RouteSpec {
        documented: false,
        ..route(id, "GET", path, Access::Public)
    }
}

/// Every route the service serves.
pub const ROUTES: &[RouteSpec] = &[
    scoped(
        RouteId::Predict,
        "POST",
        "/predict",
        Scope::Predict,
        Cost::Metered,
    ),
    scoped(
        RouteId::PredictBatch,
        "POST",
        "/predict/batch",
        Scope::Predict,
        Cost::Metered,
    ),
    scoped(
        RouteId::AnalyzeBatch,
        "POST",
        "/analyze_batch",
        Scope::Jobs,
        Cost::Metered,
    ),
    scoped(
        RouteId::Job,
        "GET",
        "/jobs/{job_id}",
        Scope::Jobs,
        Cost::Poll,
    ),
    route(RouteId::Me, "GET", "/me", Access::Protected),
    route(RouteId::Models, "GET", "/models", Access::Protected),
    route(RouteId::Health, "GET", "/health", Access::Public),
    route(RouteId::Ready, "GET", "/health/ready", Access::Public),
    route(RouteId::Metrics, "GET", "/metrics", Access::Public),
    undocumented(RouteId::OpenApi, "/openapi.json"),
    undocumented(RouteId::DocsPage, "/docs"),
    undocumented(RouteId::DocsAsset, "/docs/{file:.*}"),
];

/// Paths that stay answerable under overload, so monitoring can see what is happening.
pub const NEVER_SHED: &[&str] = &["/health", "/health/ready", "/metrics"];

/// The route a resource serves, left as resource data so the metrics, the log and the key check
/// can name the route (and its scope) without matching the path again.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(pub &'static RouteSpec);

/// A request path as the logs show it: each segment that is a literal of the route table
/// (`predict`, `jobs`, `docs`...) is kept, every other non-empty segment is written `<redacted>`.
/// A client that puts its key in the path by mistake (`/jobs/<key>`, `/<key>`) must not get it
/// written to the log, in whole or in pieces (a key may contain `/`); the server cannot tell a key
/// from a job id, an asset name or a typo, so none of them is written.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    const REDACTED: &str = "<redacted>";
    let known = |segment: &str| {
        segment.is_empty()
            || ROUTES
                .iter()
                .flat_map(|route| route.path.split('/'))
                .any(|literal| literal == segment && !literal.starts_with('{'))
    };
    if path.split('/').all(known) {
        return Cow::Borrowed(path);
    }
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| if known(segment) { segment } else { REDACTED })
        .collect();
    Cow::Owned(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_logged_with_only_the_route_tables_own_words() {
        assert!(matches!(loggable_path("/predict"), Cow::Borrowed(_)));
        assert_eq!(loggable_path("/predict/batch"), "/predict/batch");
        assert_eq!(loggable_path("/health/"), "/health/");
        assert_eq!(
            loggable_path("/jobs/0b6f2a3e-1c1d-4a5e-9f00-1234567890ab"),
            "/jobs/<redacted>"
        );
        // A key with `/` in it leaves no piece behind, however short.
        assert_eq!(
            loggable_path("/abcdefgh/ijk/mnopqrst"),
            "/<redacted>/<redacted>/<redacted>"
        );
        assert_eq!(loggable_path("/docs/index.css"), "/docs/<redacted>");
        assert_eq!(loggable_path("/predcit"), "/<redacted>");
        // A route parameter's name is not a literal.
        assert_eq!(loggable_path("/{job_id}"), "/<redacted>");
    }

    #[test]
    fn every_route_is_listed_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert_ne!(a.id, b.id);
                assert!((a.method, a.path) != (b.method, b.path));
            }
        }
    }
}
