//! Images the services answer (PNG, JPEG, GeoTIFF), decoded with GDAL to check their pixels.

use std::ops::Deref;
use std::path::Path;

use gdal::Dataset;
use gdal::raster::Buffer;

/// An image opened from bytes: a GDAL dataset on a temporary file that lives as long as it.
pub struct Image {
    dataset: Dataset,
    _file: tempfile::NamedTempFile,
}

impl Deref for Image {
    type Target = Dataset;

    fn deref(&self) -> &Dataset {
        &self.dataset
    }
}

/// Opens `bytes` (an image a service sent) with GDAL, whatever its format.
pub fn open(bytes: &[u8]) -> Image {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), bytes).expect("writing the image");
    let dataset = Dataset::open(file.path()).unwrap_or_else(|error| {
        panic!(
            "GDAL cannot open the image ({} bytes): {error}",
            bytes.len()
        )
    });
    Image {
        dataset,
        _file: file,
    }
}

/// Every band's value at pixel (x, y), band 1 first.
pub fn pixel(dataset: &Dataset, x: isize, y: isize) -> Vec<u8> {
    (1..=dataset.raster_count())
        .map(|band| {
            let buffer: Buffer<u8> = dataset
                .rasterband(band)
                .expect("a band")
                .read_as((x, y), (1, 1), (1, 1), None)
                .unwrap_or_else(|error| panic!("reading pixel ({x}, {y}): {error}"));
            buffer.data()[0]
        })
        .collect()
}

/// The pixels of an image: width, height and each band's values row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Each band's values, row by row, band 1 first.
    pub bands: Vec<Vec<u8>>,
}

impl Pixels {
    /// Decodes an image from its bytes.
    pub fn decode(bytes: &[u8]) -> Self {
        Self::read(&open(bytes))
    }

    /// Reads an image file.
    pub fn open(path: &Path) -> Self {
        let dataset = Dataset::open(path)
            .unwrap_or_else(|error| panic!("GDAL cannot open {}: {error}", path.display()));
        Self::read(&dataset)
    }

    /// Reads every band of `dataset`.
    pub fn read(dataset: &Dataset) -> Self {
        let (width, height) = dataset.raster_size();
        let bands = (1..=dataset.raster_count())
            .map(|band| {
                dataset
                    .rasterband(band)
                    .expect("a band")
                    .read_as::<u8>((0, 0), (width, height), (width, height), None)
                    .expect("reading a band")
                    .data()
                    .to_vec()
            })
            .collect();
        Self {
            width,
            height,
            bands,
        }
    }

    /// How many pixels are opaque (alpha 255; all of them without an alpha band).
    pub fn opaque(&self) -> usize {
        match self.bands.len() {
            4 | 2 => self
                .bands
                .last()
                .expect("an alpha band")
                .iter()
                .filter(|a| **a == 255)
                .count(),
            _ => self.width * self.height,
        }
    }

    /// The pixels of an RGBA image, row by row; panics unless it has four bands.
    pub fn rgba(&self) -> Vec<[u8; 4]> {
        let [r, g, b, a] = self.bands.as_slice() else {
            panic!("{} bands, not RGBA", self.bands.len());
        };
        (0..self.width * self.height)
            .map(|i| [r[i], g[i], b[i], a[i]])
            .collect()
    }
}
