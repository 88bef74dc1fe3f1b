use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::http::types::ModelList;
use crate::http::ApiKey;
use crate::inference::Inference;

/// `GET /models`: the loaded models, the default among them; spends no unit.
#[utoipa::path(
    get,
    path = "/models",
    summary = "List the models",
    tag = "sentiment",
    description = "The models this server has loaded: name, kind, whether it is the default, labels, licence and a description. A request chooses one with `model`; without it, the default answers. Spends no unit.",
    responses((status = 200, description = "The loaded models", body = ModelList), crate::http::ProtectedErrors),
    security(("APIKeyHeader" = [])),
)]
pub async fn models(
    _key: ApiKey,
    inference: web::Data<Inference>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ModelList::of(inference.models())))
}
