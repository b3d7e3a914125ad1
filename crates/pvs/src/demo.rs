//! The demo of `pvs up --demo`: real ngEO browse reports with their images, bundled in the
//! binary (`fixtures/ngeo/reference_test_data`: ENVISAT ASAR browses over the English
//! Channel, July and August 2010, seven products in five reports, one of them a group of
//! three), dropped into the watched folder as a provider would drop them over SFTP.

use std::path::Path;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/ngeo/reference_test_data/",
                $name
            ))
            .as_slice(),
        )
    };
}

/// The images, written before the reports that name them.
const IMAGES: [(&str, &[u8]); 7] = [
    fixture!("ASA_IM__0P_20100722_213840.jpg"),
    fixture!("ASA_IM__0P_20100731_103315.jpg"),
    fixture!("ASA_IM__0P_20100807_101327.jpg"),
    fixture!("ASA_IM__0P_20100813_102453.jpg"),
    fixture!("ASA_WS__0P_20100719_101023.jpg"),
    fixture!("ASA_WS__0P_20100722_101601.jpg"),
    fixture!("ASA_WS__0P_20100725_102231.jpg"),
];

/// The browse reports.
const REPORTS: [(&str, &[u8]); 5] = [
    fixture!("browseReport_ASA_IM__0P_20100722_213840.xml"),
    fixture!("browseReport_ASA_IM__0P_20100731_103315.xml"),
    fixture!("browseReport_ASA_IM__0P_20100807_101327.xml"),
    fixture!("browseReport_ASA_IM__0P_20100813_102453.xml"),
    fixture!("browseReport_ASA_WS__0P_20100719_101023_group.xml"),
];

/// Writes the demo's images, then its reports, into `folder`; returns the number of reports.
pub fn drop_reports(folder: &Path) -> std::io::Result<usize> {
    for (name, bytes) in IMAGES.iter().chain(REPORTS.iter()) {
        let path = folder.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    }
    Ok(REPORTS.len())
}
