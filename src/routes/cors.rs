use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::cors::CorsOrigins;
use crate::error::ApiError;
use crate::paths::RouteLabel;

/// `OPTIONS` on any route: a CORS preflight, answered before authentication (a browser sends no
/// key with it). Without `CORS_ALLOWED_ORIGINS`, or without a preflight's headers, the method is
/// not allowed, as before. `Access-Control-Allow-Origin` is added by the middleware, as on every
/// answer to an allowed origin.
pub async fn preflight(
    req: HttpRequest,
    cors: Option<web::Data<CorsOrigins>>,
) -> Result<HttpResponse, ApiError> {
    let route = req
        .app_data::<RouteLabel>()
        .map(|label| label.0)
        .ok_or(ApiError::NotFound)?;
    let headers = req.headers();
    let (Some(cors), Some(origin), true) = (
        cors,
        headers.get(header::ORIGIN),
        headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD),
    ) else {
        return Err(ApiError::MethodNotAllowed(route.method));
    };
    if !origin.to_str().is_ok_and(|o| cors.allows(o)) {
        log::info!("CORS preflight refused for an origin CORS_ALLOWED_ORIGINS does not list");
        return Err(ApiError::OriginNotAllowed);
    }
    Ok(HttpResponse::NoContent()
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(route.method),
        ))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "X-API-Key, Authorization, Content-Type, X-Request-Id",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish())
}
