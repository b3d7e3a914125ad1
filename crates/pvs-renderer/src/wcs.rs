//! WCS 2.0.1 with the EO application profile (to be written).

use axum::response::Response;

use crate::Renderer;

pub(crate) async fn dispatch(_renderer: &Renderer, _host: &str, _query: &str) -> Response {
    todo!("WCS")
}
