//! OpenSearch 1.1 with the Geo, Time and EO extensions (to be written).

use std::sync::Arc;

use axum::Router;

use crate::Renderer;

pub(crate) fn routes() -> Router<Arc<Renderer>> {
    Router::new()
}
