//! The storage handle and its operations.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use tokio::io::AsyncReadExt;
use url::Url;

use crate::error::{Operation, StorageError};
use crate::key::StorageKey;
use crate::settings::{S3Retry, S3Settings};
use crate::storage_url::StorageUrl;

/// The Content-Type sent with every upload: pvs stores opaque bytes (COGs, metadata, tiles).
const BINARY_CONTENT_TYPE: &str = "application/octet-stream";

/// Size of one part of a multipart upload. S3 wants at least 5 MiB per part (but the last)
/// and at most 10 000 parts, so this allows files up to about 78 GiB.
pub const MULTIPART_PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts uploaded at once by [`Storage::put_file`]; with the part being read, memory stays
/// below `(MULTIPART_CONCURRENCY + 1) * MULTIPART_PART_SIZE` whatever the file size.
const MULTIPART_CONCURRENCY: usize = 4;

/// Metadata of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// When the object was last written.
    pub last_modified: DateTime<Utc>,
    /// The backend's entity tag, if it has one (it changes when the content does).
    pub e_tag: Option<String>,
}

/// A handle on object storage: an `object_store` backend plus the key prefix.
///
/// Cheap to clone (two `Arc`s); clones share the connection pool. Every key is relative to
/// the prefix of the [`StorageUrl`] it was opened from and, being a [`StorageKey`], cannot
/// escape it.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The same store when it is a local directory, for [`Storage::get_object`]'s direct reads.
    local: Option<Arc<LocalFileSystem>>,
    config: Arc<Config>,
}

/// Objects of a local directory up to this size are read by [`Storage::get_object`] on the
/// calling thread, in one `open`/`fstat`/`read` (as nginx serves files without thread pools):
/// a hop to a blocking thread costs more than reading a tile from the page cache.
pub const INLINE_READ_LIMIT: u64 = 1024 * 1024;

/// What a storage was opened from, kept for key mapping, messages and GDAL.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) url: StorageUrl,
    /// The effective S3 settings; `Some` exactly for `s3://` storage.
    pub(crate) s3: Option<S3Settings>,
}

impl Storage {
    /// Opens the storage at `url`.
    ///
    /// `s3` is used for `s3://` URLs only (`None` means [`S3Settings::default`]: AWS, unsigned).
    /// A `file://` directory is created if missing. Each `memory://` storage is a new, empty
    /// store. No request is sent: use [`Storage::ping`] to check the backend answers.
    pub fn from_url(url: &StorageUrl, s3: Option<&S3Settings>) -> Result<Self, StorageError> {
        let mut local = None;
        let (store, s3): (Arc<dyn ObjectStore>, _) = match url {
            StorageUrl::S3 { bucket, .. } => {
                let settings = s3.cloned().unwrap_or_default();
                let store = s3_store(url, bucket, &settings)?;
                (Arc::new(store), Some(settings))
            }
            StorageUrl::File { root } => {
                std::fs::create_dir_all(root).map_err(|source| StorageError::CreateRoot {
                    path: root.clone(),
                    source,
                })?;
                let store = LocalFileSystem::new_with_prefix(root).map_err(|source| {
                    StorageError::Open {
                        storage: url.to_string(),
                        source,
                    }
                })?;
                let store = Arc::new(store);
                local = Some(store.clone());
                (store, None)
            }
            StorageUrl::Memory => (Arc::new(InMemory::new()), None),
        };
        Ok(Self {
            store,
            local,
            config: Arc::new(Config {
                url: url.clone(),
                s3,
            }),
        })
    }

    /// The URL this storage was opened from.
    pub fn url(&self) -> &StorageUrl {
        &self.config.url
    }

    /// Stores `bytes` at `key` in one request, replacing any object there.
    /// For large files use [`Storage::put_file`].
    pub async fn put(&self, key: &StorageKey, bytes: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&self.location(key), PutPayload::from(bytes))
            .await
            .map_err(|source| self.error(Operation::Put, key, source))?;
        Ok(())
    }

    /// Uploads the local file at `path` to `key`, replacing any object there.
    ///
    /// Files larger than [`MULTIPART_PART_SIZE`] go up as a multipart upload, streamed from
    /// disk with a bounded amount of memory (a few parts), so multi-GB COGs are fine. On
    /// failure the partial upload is aborted.
    pub async fn put_file(&self, key: &StorageKey, path: &Path) -> Result<(), StorageError> {
        let read_error = |source| StorageError::ReadFile {
            path: path.to_owned(),
            key: key.clone(),
            source,
        };
        let mut file = tokio::fs::File::open(path).await.map_err(read_error)?;
        let len = file.metadata().await.map_err(read_error)?.len();
        if len <= MULTIPART_PART_SIZE as u64 {
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes).await.map_err(read_error)?;
            return self.put(key, Bytes::from(bytes)).await;
        }

        let location = self.location(key);
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(|source| self.error(Operation::PutFile, key, source))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_PART_SIZE);
        loop {
            let part = match read_part(&mut file).await {
                Ok(part) => part,
                Err(source) => {
                    // Best effort: the read error is the one worth reporting.
                    let _ = writer.abort().await;
                    return Err(read_error(source));
                }
            };
            if part.is_empty() {
                break;
            }
            if let Err(source) = writer.wait_for_capacity(MULTIPART_CONCURRENCY).await {
                // Best effort: the upload error is the one worth reporting.
                let _ = writer.abort().await;
                return Err(self.error(Operation::PutFile, key, source));
            }
            writer.put(part);
        }
        writer
            .finish()
            .await
            .map_err(|source| self.error(Operation::PutFile, key, source))?;
        Ok(())
    }

    /// Reads the whole object at `key`.
    pub async fn get(&self, key: &StorageKey) -> Result<Bytes, StorageError> {
        self.get_object(key).await.map(|(bytes, _)| bytes)
    }

    /// Reads the whole object at `key` with its metadata, in one request. From a local
    /// directory, objects up to [`INLINE_READ_LIMIT`] bytes are read on the calling thread.
    pub async fn get_object(&self, key: &StorageKey) -> Result<(Bytes, ObjectInfo), StorageError> {
        let to_error = |source| self.error(Operation::Get, key, source);
        if let Some(local) = &self.local {
            match read_small_file(local, &self.location(key)) {
                Ok(Some(read)) => return Ok(read),
                Ok(None) => {}
                Err(source) => return Err(to_error(source)),
            }
        }
        let result = self
            .store
            .get(&self.location(key))
            .await
            .map_err(to_error)?;
        let info = ObjectInfo {
            size: result.meta.size,
            last_modified: result.meta.last_modified,
            e_tag: result.meta.e_tag.clone(),
        };
        let bytes = result.bytes().await.map_err(to_error)?;
        Ok((bytes, info))
    }

    /// Opens the object at `key` of a local-directory storage without reading it, on the
    /// calling thread (small files in the page cache: no hop to a blocking thread); `None` for
    /// other storages (read those with [`Storage::get_object`]). A missing object is
    /// [`StorageError::NotFound`].
    pub fn open_local(
        &self,
        key: &StorageKey,
    ) -> Option<Result<(std::fs::File, ObjectInfo), StorageError>> {
        let local = self.local.as_ref()?;
        Some(
            open_file(local, &self.location(key))
                .map_err(|source| self.error(Operation::Get, key, source)),
        )
    }

    /// Reads the bytes `range` (start inclusive, end exclusive) of the object at `key`.
    ///
    /// A range reaching past the end of the object is cut at the end; one starting at or
    /// after the end, or with `start > end`, is an error.
    pub async fn get_range(
        &self,
        key: &StorageKey,
        range: Range<u64>,
    ) -> Result<Bytes, StorageError> {
        self.store
            .get_range(&self.location(key), range)
            .await
            .map_err(|source| self.error(Operation::GetRange, key, source))
    }

    /// Reads the metadata of the object at `key`.
    pub async fn head(&self, key: &StorageKey) -> Result<ObjectInfo, StorageError> {
        let meta = self
            .store
            .head(&self.location(key))
            .await
            .map_err(|source| self.error(Operation::Head, key, source))?;
        Ok(ObjectInfo {
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag,
        })
    }

    /// Whether an object exists at `key`.
    pub async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Deletes the object at `key`; deleting a missing object succeeds.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        match self.store.delete(&self.location(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.error(Operation::Delete, key, source)),
        }
    }

    /// Lists the keys of all objects under `prefix` (every object when `None`), sorted.
    ///
    /// The prefix matches whole segments: `a/b` lists `a/b/c` but not `a/bc`. Returned keys
    /// are relative to the storage prefix, like the keys given to [`Storage::put`].
    pub async fn list(&self, prefix: Option<&StorageKey>) -> Result<Vec<StorageKey>, StorageError> {
        let location = self.list_location(prefix);
        let target = prefix.map_or("", StorageKey::as_str);
        let metas: Vec<_> = self
            .store
            .list(location.as_ref())
            .try_collect()
            .await
            .map_err(|source| self.backend_error(Operation::List, target, source))?;
        let mut keys = metas
            .iter()
            .map(|meta| self.key_of(&meta.location))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort();
        Ok(keys)
    }

    /// The names of the "folders" directly under `prefix`: the next segment of every key
    /// below it that has more segments (`a/b/c` under `a` gives `b`), sorted, without
    /// listing what is inside them.
    pub async fn list_children(&self, prefix: &StorageKey) -> Result<Vec<String>, StorageError> {
        let location = self.location(prefix);
        let listing = self
            .store
            .list_with_delimiter(Some(&location))
            .await
            .map_err(|source| self.backend_error(Operation::List, prefix.as_str(), source))?;
        let mut names: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Checks that the backend answers, with one cheap request (the first page of a listing
    /// of the prefix); for S3 this also checks the bucket exists and the credentials work.
    pub async fn ping(&self) -> Result<(), StorageError> {
        let location = self.list_location(None);
        self.store
            .list(location.as_ref())
            .try_next()
            .await
            .map_err(|source| self.backend_error(Operation::Ping, "", source))?;
        Ok(())
    }

    /// What this storage was opened from.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The backend path of `key`: the storage prefix joined with the key.
    fn location(&self, key: &StorageKey) -> ObjectPath {
        let full = match self.prefix() {
            Some(prefix) => format!("{prefix}/{key}"),
            None => key.to_string(),
        };
        // `Path::from` would percent-encode some characters (`~`, `[`...), so the object
        // would not be at the key GDAL and other S3 clients use; `Path::parse` keeps it as is.
        ObjectPath::parse(full).expect("a StorageKey under a StorageKey prefix is a valid path")
    }

    /// The backend path to list for `prefix`; `None` when the whole store is listed.
    fn list_location(&self, prefix: Option<&StorageKey>) -> Option<ObjectPath> {
        match (prefix, self.prefix()) {
            (Some(key), _) => Some(self.location(key)),
            (None, Some(storage_prefix)) => Some(
                ObjectPath::parse(storage_prefix.as_str()).expect("a StorageKey is a valid path"),
            ),
            (None, None) => None,
        }
    }

    /// The key, relative to the storage prefix, of a listed backend path.
    fn key_of(&self, location: &ObjectPath) -> Result<StorageKey, StorageError> {
        let full = location.as_ref();
        let relative = match self.prefix() {
            // The listing was under the prefix, so every path starts with it.
            Some(prefix) => full
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(full),
            None => full,
        };
        StorageKey::parse(relative).map_err(|source| StorageError::UnusableListedKey {
            storage: self.config.url.to_string(),
            source,
        })
    }

    fn prefix(&self) -> Option<&StorageKey> {
        match &self.config.url {
            StorageUrl::S3 { prefix, .. } => prefix.as_ref(),
            StorageUrl::File { .. } | StorageUrl::Memory => None,
        }
    }

    fn error(
        &self,
        operation: Operation,
        key: &StorageKey,
        source: object_store::Error,
    ) -> StorageError {
        match source {
            object_store::Error::NotFound { .. } => StorageError::NotFound {
                operation,
                key: key.clone(),
            },
            source => self.backend_error(operation, key.as_str(), source),
        }
    }

    fn backend_error(
        &self,
        operation: Operation,
        target: &str,
        source: object_store::Error,
    ) -> StorageError {
        StorageError::Backend {
            operation,
            target: target.to_owned(),
            storage: self.config.url.to_string(),
            source,
        }
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.url.fmt(f)
    }
}

/// Reads up to one part from `file`; an empty result means the end of the file.
async fn read_part(file: &mut tokio::fs::File) -> std::io::Result<Bytes> {
    let mut part = BytesMut::with_capacity(MULTIPART_PART_SIZE);
    while part.len() < MULTIPART_PART_SIZE {
        if file.read_buf(&mut part).await? == 0 {
            break;
        }
    }
    Ok(part.freeze())
}

/// Builds the `object_store` S3 client for `bucket` with `settings`.
fn s3_store(
    url: &StorageUrl,
    bucket: &str,
    settings: &S3Settings,
) -> Result<object_store::aws::AmazonS3, StorageError> {
    let mut builder = AmazonS3Builder::new()
        .with_client_options(ClientOptions::new().with_default_content_type(BINARY_CONTENT_TYPE))
        .with_bucket_name(bucket)
        .with_region(&settings.region)
        .with_retry(retry_config(&settings.retry))
        .with_allow_http(settings.allow_http)
        .with_virtual_hosted_style_request(settings.virtual_hosted_style);
    if let Some(endpoint) = &settings.endpoint {
        check_endpoint(endpoint, settings)?;
        builder = builder.with_endpoint(client_endpoint(endpoint, bucket, settings));
    }
    builder = match (&settings.access_key_id, &settings.secret_access_key) {
        (Some(id), Some(secret)) => builder
            .with_access_key_id(id)
            .with_secret_access_key(secret),
        (None, None) => builder.with_skip_signature(true),
        _ => {
            return Err(StorageError::InvalidS3Settings {
                reason: "give both the access key id and the secret access key, or neither for unsigned requests".to_owned(),
            });
        }
    };
    builder.build().map_err(|source| StorageError::Open {
        storage: url.to_string(),
        source,
    })
}

/// `object_store`'s retry configuration for `retry`.
fn retry_config(retry: &S3Retry) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: retry.init_backoff,
            max_backoff: retry.max_backoff,
            base: 2.0,
        },
        max_retries: retry.max_retries,
        retry_timeout: retry.retry_timeout,
    }
}

/// Refuses endpoints that cannot be expressed the same way to `object_store` and to GDAL.
fn check_endpoint(endpoint: &Url, settings: &S3Settings) -> Result<(), StorageError> {
    let invalid = |what: &str| StorageError::InvalidS3Settings {
        reason: format!(
            "the endpoint {endpoint} {what}; give scheme, host and port only, e.g. http://127.0.0.1:9000"
        ),
    };
    match endpoint.scheme() {
        "https" => {}
        "http" if settings.allow_http => {}
        "http" => return Err(invalid("is plain http but allow_http is false")),
        _ => return Err(invalid("is neither http nor https")),
    }
    if endpoint.host_str().is_none() {
        return Err(invalid("has no host"));
    }
    if endpoint.path() != "/" || endpoint.query().is_some() || endpoint.fragment().is_some() {
        return Err(invalid("has a path, query or fragment"));
    }
    if !endpoint.username().is_empty() || endpoint.password().is_some() {
        return Err(invalid("has user info (give credentials as access keys)"));
    }
    Ok(())
}

/// The endpoint `object_store` wants: as configured for path-style, with the bucket in the
/// host name for virtual-hosted style (which `object_store` expects the caller to add).
fn client_endpoint(endpoint: &Url, bucket: &str, settings: &S3Settings) -> String {
    let base = endpoint.as_str().trim_end_matches('/');
    if !settings.virtual_hosted_style {
        return base.to_owned();
    }
    let host = endpoint.host_str().unwrap_or_default();
    match endpoint.port() {
        Some(port) => format!("{}://{bucket}.{host}:{port}", endpoint.scheme()),
        None => format!("{}://{bucket}.{host}", endpoint.scheme()),
    }
}

/// Opens a local file and describes it as `object_store`'s `LocalFileSystem` does (same
/// entity tag and modification time), with one `open` and one `fstat`.
fn open_file(
    local: &LocalFileSystem,
    location: &ObjectPath,
) -> Result<(std::fs::File, ObjectInfo), object_store::Error> {
    let path = local.path_to_filesystem(location)?;
    let io_error = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            object_store::Error::NotFound {
                path: location.to_string(),
                source: Box::new(source),
            }
        } else {
            object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(source),
            }
        }
    };
    let file = std::fs::File::open(&path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.is_dir() {
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "is a directory",
        )));
    }
    let modified = metadata.modified().map_err(io_error)?;
    let micros = modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    let info = ObjectInfo {
        size: metadata.len(),
        last_modified: modified.into(),
        e_tag: Some(format!("\"{inode:x}-{micros:x}-{:x}\"", metadata.len())),
    };
    Ok((file, info))
}

/// Reads a local file of at most [`INLINE_READ_LIMIT`] bytes with its metadata (see
/// [`open_file`]); `None` for a larger file.
fn read_small_file(
    local: &LocalFileSystem,
    location: &ObjectPath,
) -> Result<Option<(Bytes, ObjectInfo)>, object_store::Error> {
    use std::io::Read;
    let (mut file, info) = open_file(local, location)?;
    if info.size > INLINE_READ_LIMIT {
        return Ok(None);
    }
    // The size is known: one read, no growing buffer and no read to find the end.
    let mut bytes = vec![0; info.size as usize];
    file.read_exact(&mut bytes)
        .map_err(|source| object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(source),
        })?;
    Ok(Some((Bytes::from(bytes), info)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moto_like() -> S3Settings {
        S3Settings::with_endpoint("http://127.0.0.1:9000".parse().unwrap())
    }

    #[test]
    fn path_style_endpoint_is_used_as_is_and_virtual_hosting_adds_the_bucket() {
        let endpoint: Url = "http://127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            client_endpoint(&endpoint, "b1", &moto_like()),
            "http://127.0.0.1:9000"
        );
        let virtual_hosted = S3Settings {
            virtual_hosted_style: true,
            ..S3Settings::with_endpoint("https://minio.example".parse().unwrap())
        };
        let endpoint = virtual_hosted.endpoint.clone().unwrap();
        assert_eq!(
            client_endpoint(&endpoint, "b1", &virtual_hosted),
            "https://b1.minio.example"
        );
    }

    #[test]
    fn refuses_unusable_s3_settings() {
        let url: StorageUrl = "s3://bucket".parse().unwrap();
        let half_keys = S3Settings {
            access_key_id: Some("id".into()),
            ..moto_like()
        };
        let with_path = S3Settings::with_endpoint("http://127.0.0.1:9000/s3".parse().unwrap());
        let http_not_allowed = S3Settings {
            allow_http: false,
            ..moto_like()
        };
        for settings in [half_keys, with_path, http_not_allowed] {
            let error = Storage::from_url(&url, Some(&settings)).unwrap_err();
            assert!(
                matches!(error, StorageError::InvalidS3Settings { .. }),
                "{settings:?}: {error}"
            );
        }
    }

    #[test]
    fn file_storage_creates_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/b");
        let url: StorageUrl = format!("file://{}", root.display()).parse().unwrap();
        Storage::from_url(&url, None).unwrap();
        assert!(root.is_dir());
    }
}
