//! The same storage, as GDAL sees it: `/vsis3/` paths and GDAL configuration options.
//!
//! The preprocessor and the renderer read COGs with GDAL. They must reach exactly the objects
//! this crate writes, with the same endpoint and credentials, so both come from one
//! [`Storage`]. This module does not link GDAL: it only produces strings.

use crate::storage::Storage;
use crate::{StorageKey, StorageUrl};

impl Storage {
    /// The path under which GDAL opens the object at `key`:
    ///
    /// - `s3://bucket/prefix`: `/vsis3/bucket/prefix/key` (read with the options of
    ///   [`Storage::gdal_config`]);
    /// - `file:///dir`: the absolute local path `/dir/key`;
    /// - `memory://`: `None`, GDAL cannot see this process's memory store.
    pub fn gdal_path(&self, key: &StorageKey) -> Option<String> {
        match &self.config().url {
            StorageUrl::S3 {
                bucket,
                prefix: Some(prefix),
            } => Some(format!("/vsis3/{bucket}/{prefix}/{key}")),
            StorageUrl::S3 {
                bucket,
                prefix: None,
            } => Some(format!("/vsis3/{bucket}/{key}")),
            StorageUrl::File { root } => Some(root.join(key.as_str()).display().to_string()),
            StorageUrl::Memory => None,
        }
    }

    /// The GDAL configuration options under which [`Storage::gdal_path`] reaches the same
    /// objects as this storage. Set each as a GDAL config option (`CPLSetConfigOption`,
    /// `--config KEY VALUE` on the command line, or the environment of a GDAL tool) before
    /// opening the path. Empty for `file://` and `memory://`.
    ///
    /// For `s3://`:
    ///
    /// | option | value |
    /// | --- | --- |
    /// | `AWS_S3_ENDPOINT` | `host:port` of the endpoint (only with a custom endpoint) |
    /// | `AWS_HTTPS` | `NO` for an `http://` endpoint, `YES` otherwise |
    /// | `AWS_VIRTUAL_HOSTING` | `TRUE` for virtual-hosted style, `FALSE` for path-style |
    /// | `AWS_REGION` | the region |
    /// | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | the key pair, when configured |
    /// | `AWS_NO_SIGN_REQUEST` | `YES` when no key pair is configured (unsigned requests) |
    ///
    /// The list holds the secret access key: never log it.
    pub fn gdal_config(&self) -> Vec<(String, String)> {
        let Some(settings) = &self.config().s3 else {
            return Vec::new();
        };
        let yes_no = |yes: bool| if yes { "YES" } else { "NO" };
        let mut options = Vec::new();
        let mut set = |name: &str, value: &str| options.push((name.to_owned(), value.to_owned()));
        if let Some(endpoint) = &settings.endpoint {
            let host = endpoint.host_str().unwrap_or_default();
            match endpoint.port() {
                Some(port) => set("AWS_S3_ENDPOINT", &format!("{host}:{port}")),
                None => set("AWS_S3_ENDPOINT", host),
            }
        }
        let https = settings
            .endpoint
            .as_ref()
            .is_none_or(|endpoint| endpoint.scheme() == "https");
        set("AWS_HTTPS", yes_no(https));
        set(
            "AWS_VIRTUAL_HOSTING",
            if settings.virtual_hosted_style {
                "TRUE"
            } else {
                "FALSE"
            },
        );
        set("AWS_REGION", &settings.region);
        match (&settings.access_key_id, &settings.secret_access_key) {
            (Some(id), Some(secret)) => {
                set("AWS_ACCESS_KEY_ID", id);
                set("AWS_SECRET_ACCESS_KEY", secret);
            }
            _ => set("AWS_NO_SIGN_REQUEST", "YES"),
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::S3Settings;

    fn storage(url: &str, settings: Option<&S3Settings>) -> Storage {
        Storage::from_url(&url.parse().unwrap(), settings).unwrap()
    }

    fn key(key: &str) -> StorageKey {
        StorageKey::parse(key).unwrap()
    }

    fn pairs(options: &[(&str, &str)]) -> Vec<(String, String)> {
        options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn s3_paths_include_bucket_and_prefix() {
        let with_prefix = storage("s3://pvs-data/products/v1", None);
        assert_eq!(
            with_prefix.gdal_path(&key("a/b.tif")).as_deref(),
            Some("/vsis3/pvs-data/products/v1/a/b.tif")
        );
        let without = storage("s3://pvs-data", None);
        assert_eq!(
            without.gdal_path(&key("a/b.tif")).as_deref(),
            Some("/vsis3/pvs-data/a/b.tif")
        );
    }

    #[test]
    fn local_paths_are_absolute_and_memory_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let local = storage(&format!("file://{}", dir.path().display()), None);
        assert_eq!(
            local.gdal_path(&key("a/b.tif")),
            Some(dir.path().join("a/b.tif").display().to_string())
        );
        assert!(local.gdal_config().is_empty());
        let memory = storage("memory://", None);
        assert_eq!(memory.gdal_path(&key("a")), None);
        assert!(memory.gdal_config().is_empty());
    }

    #[test]
    fn config_for_a_local_s3_server_with_keys() {
        let settings = S3Settings::with_endpoint("http://127.0.0.1:9000".parse().unwrap())
            .with_credentials("id", "secret");
        assert_eq!(
            storage("s3://bucket-1", Some(&settings)).gdal_config(),
            pairs(&[
                ("AWS_S3_ENDPOINT", "127.0.0.1:9000"),
                ("AWS_HTTPS", "NO"),
                ("AWS_VIRTUAL_HOSTING", "FALSE"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "id"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ])
        );
    }

    #[test]
    fn config_for_aws_unsigned_virtual_hosted() {
        let settings = S3Settings {
            region: "eu-central-1".into(),
            virtual_hosted_style: true,
            ..S3Settings::default()
        };
        assert_eq!(
            storage("s3://bucket-1", Some(&settings)).gdal_config(),
            pairs(&[
                ("AWS_HTTPS", "YES"),
                ("AWS_VIRTUAL_HOSTING", "TRUE"),
                ("AWS_REGION", "eu-central-1"),
                ("AWS_NO_SIGN_REQUEST", "YES"),
            ])
        );
    }
}
