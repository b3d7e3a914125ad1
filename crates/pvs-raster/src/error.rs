use thiserror::Error;

/// Why a raster could not be read, converted or checked. Messages name the file and what
/// GDAL said.
#[derive(Debug, Error)]
pub enum RasterError {
    /// GDAL could not open the file as a raster.
    #[error("cannot open {path} as a raster: {reason}")]
    Open {
        /// The path as given to GDAL.
        path: String,
        /// GDAL's message.
        reason: String,
    },
    /// A GDAL operation failed.
    #[error("{operation} failed: {reason}")]
    Gdal {
        /// What was being done.
        operation: String,
        /// GDAL's message.
        reason: String,
    },
    /// The geolocation does not fit the image or cannot be used.
    #[error("georeferencing: {0}")]
    Georef(String),
    /// The input is readable but unsuitable (no bands, zero size, an unknown CRS...).
    #[error("{0}")]
    Unsuitable(String),
}

impl RasterError {
    pub(crate) fn gdal(operation: impl Into<String>, error: impl std::fmt::Display) -> Self {
        RasterError::Gdal {
            operation: operation.into(),
            reason: error.to_string(),
        }
    }
}
