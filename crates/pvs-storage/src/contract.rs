//! The contract every storage backend must pass: one suite, run against `memory://`,
//! `file://` and a real S3-compatible server by this crate's tests.
//!
//! Each function takes a fresh, empty [`Storage`] (its own directory, bucket or prefix, so
//! tests run in parallel) and panics, saying what differed, when the backend breaks the
//! contract.

use std::io::Write;

use bytes::Bytes;
use chrono::{TimeDelta, Utc};

use crate::{KeyError, MULTIPART_PART_SIZE, Storage, StorageError, StorageKey};

/// Size of the file [`put_file_large`] uploads: several multipart parts plus a partial one.
pub const LARGE_FILE_SIZE: usize = 20 * 1024 * 1024 + 12_345;

fn key(key: &str) -> StorageKey {
    StorageKey::parse(key).unwrap_or_else(|error| panic!("test key {key:?} is invalid: {error}"))
}

/// `len` bytes that differ at every offset modulo a large period (an xorshift sequence), so
/// that a shifted, truncated or reordered copy is detected.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn assert_not_found(result: Result<impl std::fmt::Debug, StorageError>, missing: &StorageKey) {
    match result {
        Err(StorageError::NotFound { ref key, .. }) if key == missing => {
            let message = result.unwrap_err().to_string();
            assert!(
                message.contains(missing.as_str()) && message.contains("does not exist"),
                "a NotFound error names the key: {message}"
            );
        }
        other => panic!("expected NotFound for `{missing}`, got {other:?}"),
    }
}

/// What is put comes back byte for byte, for ordinary, unusual and empty objects, and is
/// listed under the key it was put at.
pub async fn put_get_round_trip(storage: &Storage) {
    let objects = [
        ("a.bin", pattern(1000, 1)),
        (
            "dir/sub dir/ünï+code=,;@$&!'()~[1]%41.tif",
            pattern(4096, 2),
        ),
        ("empty", Vec::new()),
    ];
    for (name, bytes) in &objects {
        storage
            .put(&key(name), Bytes::from(bytes.clone()))
            .await
            .unwrap_or_else(|error| panic!("put `{name}`: {error}"));
    }
    for (name, bytes) in &objects {
        let got = storage
            .get(&key(name))
            .await
            .unwrap_or_else(|error| panic!("get `{name}`: {error}"));
        assert_eq!(got.as_ref(), bytes.as_slice(), "content of `{name}`");
        assert!(storage.exists(&key(name)).await.unwrap(), "`{name}` exists");
    }
    let mut names: Vec<_> = objects.iter().map(|(name, _)| key(name)).collect();
    names.sort();
    assert_eq!(storage.list(None).await.unwrap(), names, "listed keys");
}

/// Byte ranges come back exactly; a range past the end is cut at the end.
pub async fn get_range(storage: &Storage) {
    let bytes = pattern(10_000, 3);
    let name = key("ranges/object.bin");
    storage
        .put(&name, Bytes::from(bytes.clone()))
        .await
        .unwrap();
    for range in [0..1, 10..20, 4096..8192, 9_999..10_000, 0..10_000] {
        let got = storage.get_range(&name, range.clone()).await.unwrap();
        let expected = &bytes[range.start as usize..range.end as usize];
        assert_eq!(got.as_ref(), expected, "range {range:?}");
    }
    let tail = storage.get_range(&name, 9_990..20_000).await.unwrap();
    assert_eq!(tail.as_ref(), &bytes[9_990..], "range past the end");
    assert!(
        storage.get_range(&name, 10_000..10_010).await.is_err(),
        "a range starting at the end is an error"
    );
}

/// `head` reports the size, a recent modification time and changes the e-tag with the content.
pub async fn head(storage: &Storage) {
    let name = key("head/object.bin");
    storage
        .put(&name, Bytes::from(pattern(777, 4)))
        .await
        .unwrap();
    let info = storage.head(&name).await.unwrap();
    assert_eq!(info.size, 777);
    let age = Utc::now() - info.last_modified;
    assert!(
        age < TimeDelta::minutes(5) && age > TimeDelta::minutes(-5),
        "last_modified {} is not about now",
        info.last_modified
    );
    let first_tag = info.e_tag.expect("backends report an e-tag");
    storage
        .put(&name, Bytes::from(pattern(778, 5)))
        .await
        .unwrap();
    let second = storage.head(&name).await.unwrap();
    assert_eq!(second.size, 778);
    assert_ne!(
        second.e_tag,
        Some(first_tag),
        "the e-tag changes with the content"
    );
}

/// Listing a prefix returns the keys under it (whole segments only), sorted, relative to the
/// storage prefix.
pub async fn list_under_prefix(storage: &Storage) {
    assert_eq!(storage.list(None).await.unwrap(), Vec::<StorageKey>::new());
    let names = ["a/2", "a/1", "a/b/3", "ab/4", "c"];
    for name in names {
        storage
            .put(&key(name), Bytes::from_static(b"x"))
            .await
            .unwrap();
    }
    let under_a = storage.list(Some(&key("a"))).await.unwrap();
    assert_eq!(under_a, [key("a/1"), key("a/2"), key("a/b/3")]);
    let all = storage.list(None).await.unwrap();
    assert_eq!(
        all,
        [key("a/1"), key("a/2"), key("a/b/3"), key("ab/4"), key("c")]
    );
    assert_eq!(
        storage.list(Some(&key("missing"))).await.unwrap(),
        Vec::<StorageKey>::new()
    );
}

/// `get_object` returns the bytes with the same metadata `head` gives; a missing object is
/// NotFound.
pub async fn get_object_with_info(storage: &Storage) {
    let name = key("get_object/tile.png");
    let content = pattern(1234, 7);
    storage
        .put(&name, Bytes::from(content.clone()))
        .await
        .unwrap();
    let (bytes, info) = storage.get_object(&name).await.unwrap();
    assert_eq!(bytes.as_ref(), content.as_slice());
    assert_eq!(info.size, 1234);
    let head = storage.head(&name).await.unwrap();
    assert_eq!(info.e_tag, head.e_tag);
    assert_eq!(info.last_modified, head.last_modified);
    storage.put(&name, Bytes::new()).await.unwrap();
    let (bytes, info) = storage.get_object(&name).await.unwrap();
    assert!(bytes.is_empty(), "an empty object reads back empty");
    assert_eq!(info.size, 0);
    assert!(matches!(
        storage.get_object(&key("get_object/missing")).await,
        Err(StorageError::NotFound { .. })
    ));
    // Larger than what a local directory reads inline: the other path, the same answer.
    let large = pattern(crate::INLINE_READ_LIMIT as usize + 4097, 8);
    let name = key("get_object/large.bin");
    storage
        .put(&name, Bytes::from(large.clone()))
        .await
        .unwrap();
    let (bytes, info) = storage.get_object(&name).await.unwrap();
    assert_eq!(bytes.as_ref(), large.as_slice());
    assert_eq!(info.e_tag, storage.head(&name).await.unwrap().e_tag);
    // A "folder" is not an object.
    assert!(matches!(
        storage.get_object(&key("get_object")).await,
        Err(StorageError::NotFound { .. })
    ));
}

/// `list_children` names the next segment of the keys under a prefix that have more
/// segments, once each, sorted; objects directly under the prefix are not children.
pub async fn list_children_of_prefix(storage: &Storage) {
    for name in ["t/a/1/x", "t/a/2/y", "t/b/z", "t/c", "tt/d/e", "u/f/g"] {
        storage
            .put(&key(name), Bytes::from_static(b"x"))
            .await
            .unwrap();
    }
    assert_eq!(storage.list_children(&key("t")).await.unwrap(), ["a", "b"]);
    assert_eq!(
        storage.list_children(&key("t/a")).await.unwrap(),
        ["1", "2"]
    );
    assert!(
        storage
            .list_children(&key("t/a/1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .list_children(&key("missing"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A deleted object is gone (NotFound, naming the key); deleting it again succeeds.
pub async fn delete_then_not_found(storage: &Storage) {
    let name = key("delete/me.bin");
    storage
        .put(&name, Bytes::from_static(b"bye"))
        .await
        .unwrap();
    storage.delete(&name).await.unwrap();
    assert_not_found(storage.get(&name).await, &name);
    assert!(!storage.exists(&name).await.unwrap());
    storage
        .delete(&name)
        .await
        .expect("deleting a missing object succeeds");
    assert_eq!(storage.list(None).await.unwrap(), Vec::<StorageKey>::new());
}

/// Reading, ranging or inspecting a missing object is NotFound naming the key.
pub async fn missing_is_not_found(storage: &Storage) {
    let name = key("never/written.tif");
    assert_not_found(storage.get(&name).await, &name);
    assert_not_found(storage.get_range(&name, 0..10).await, &name);
    assert_not_found(storage.head(&name).await, &name);
    assert!(!storage.exists(&name).await.unwrap());
}

/// A second put replaces the object whole (a shorter content leaves no old tail).
pub async fn overwrite(storage: &Storage) {
    let name = key("overwrite/object.bin");
    storage
        .put(&name, Bytes::from(pattern(5000, 6)))
        .await
        .unwrap();
    let replacement = pattern(100, 7);
    storage
        .put(&name, Bytes::from(replacement.clone()))
        .await
        .unwrap();
    assert_eq!(
        storage.get(&name).await.unwrap().as_ref(),
        replacement.as_slice()
    );
    assert_eq!(storage.head(&name).await.unwrap().size, 100);
}

/// A file of several multipart parts uploads intact; so does a small one; a missing local
/// file is an error naming it.
pub async fn put_file_large(storage: &Storage) {
    let bytes = pattern(LARGE_FILE_SIZE, 8);
    let mut file = tempfile::NamedTempFile::new().expect("create a temporary file");
    for chunk in bytes.chunks(1024 * 1024) {
        file.write_all(chunk).expect("write the temporary file");
    }
    file.flush().expect("flush the temporary file");
    let name = key("cogs/large.tif");
    storage.put_file(&name, file.path()).await.unwrap();
    assert_eq!(
        storage.head(&name).await.unwrap().size,
        LARGE_FILE_SIZE as u64
    );
    let got = storage.get(&name).await.unwrap();
    assert!(
        got.as_ref() == bytes.as_slice(),
        "the uploaded large file differs"
    );
    let boundary = MULTIPART_PART_SIZE as u64;
    let across = storage
        .get_range(&name, boundary - 3..boundary + 3)
        .await
        .unwrap();
    assert_eq!(
        across.as_ref(),
        &bytes[boundary as usize - 3..boundary as usize + 3]
    );

    let small = pattern(3000, 9);
    let mut small_file = tempfile::NamedTempFile::new().expect("create a temporary file");
    small_file
        .write_all(&small)
        .expect("write the temporary file");
    let small_name = key("cogs/small.tif");
    storage
        .put_file(&small_name, small_file.path())
        .await
        .unwrap();
    assert_eq!(
        storage.get(&small_name).await.unwrap().as_ref(),
        small.as_slice()
    );

    let missing = std::path::Path::new("/nonexistent/pvs/file.tif");
    let error = storage
        .put_file(&key("cogs/x.tif"), missing)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::ReadFile { ref path, .. } if path == missing),
        "{error:?}"
    );
}

/// Keys that could leave the prefix are refused when parsed, so no storage call can be made
/// with them; the storage stays empty.
pub async fn unsafe_keys_refused(storage: &Storage) {
    let refused = [
        (
            "../escape",
            KeyError::DotSegment {
                key: "../escape".into(),
                segment: "..",
            },
        ),
        (
            "a/../../b",
            KeyError::DotSegment {
                key: "a/../../b".into(),
                segment: "..",
            },
        ),
        (
            "/etc/passwd",
            KeyError::Absolute {
                key: "/etc/passwd".into(),
            },
        ),
        ("a//b", KeyError::EmptySegment { key: "a//b".into() }),
        (
            "..\\x",
            KeyError::Backslash {
                key: "..\\x".into(),
            },
        ),
        ("", KeyError::Empty),
    ];
    for (text, expected) in refused {
        assert_eq!(StorageKey::parse(text), Err(expected), "key {text:?}");
    }
    let base = key("products");
    assert!(base.join("../../etc").is_err(), "join refuses `..`");
    assert!(base.join("/etc").is_err(), "join refuses absolute keys");
    assert_eq!(storage.list(None).await.unwrap(), Vec::<StorageKey>::new());
}

/// The backend answers a ping.
pub async fn ping(storage: &Storage) {
    storage
        .ping()
        .await
        .unwrap_or_else(|error| panic!("ping {storage}: {error}"));
}
