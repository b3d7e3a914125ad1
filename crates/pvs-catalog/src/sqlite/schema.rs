//! Opening a catalog file: connection settings and the versioned schema.
//!
//! The schema is a list of SQL files, `migrations/NNNN_name.sql` next to this module, embedded
//! in the binary. The file records the version it has reached in `PRAGMA user_version` and
//! that it is a pvs catalog in `PRAGMA application_id`. Opening applies the missing
//! migrations in one `IMMEDIATE` transaction, so that processes opening the same file together
//! apply each exactly once.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::migration::Migration;
use crate::{CatalogError, Result};

/// Every migration, in order. Append only: an applied migration must never change.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "properties",
        sql: include_str!("migrations/0002_properties.sql"),
    },
    Migration {
        version: 3,
        name: "footprint_time_index",
        sql: include_str!("migrations/0003_footprint_time_index.sql"),
    },
    Migration {
        version: 4,
        name: "ids_per_collection",
        sql: include_str!("migrations/0004_ids_per_collection.sql"),
    },
    Migration {
        version: 5,
        name: "product_changes",
        sql: include_str!("migrations/0005_product_changes.sql"),
    },
];

/// `PRAGMA application_id` of a pvs catalog file ("pvsc").
pub(super) const APPLICATION_ID: i32 = 0x7076_7363;

/// How long a statement waits for a lock held by another connection before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The newest schema version this build knows.
pub(super) fn newest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

/// Opens `path` for reading and writing with the catalog's settings: a busy timeout, foreign
/// keys, and, when `create` (the writer), creating the file and switching it to WAL with
/// full synchronisation (a registration that returned survives a power cut).
pub(super) fn open(path: &Path, create: bool) -> Result<Connection> {
    let fail = |reason: String| CatalogError::Connection {
        url: path.display().to_string(),
        reason,
    };
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let connection = Connection::open_with_flags(path, flags)
        .map_err(|error| fail(format!("cannot open it: {error}")))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|error| fail(format!("cannot set its busy timeout: {error}")))?;
    // The first statement reads the file: a file that is not a database fails here.
    let mode: String = connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|error| fail(format!("cannot read it as an SQLite database: {error}")))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(fail(format!(
            "cannot switch it to WAL mode (the file system may not support it): the journal \
             mode is {mode}"
        )));
    }
    configure(&connection).map_err(fail)?;
    Ok(connection)
}

/// An in-memory database with the catalog's settings.
pub(super) fn open_in_memory() -> Result<Connection> {
    let fail = |reason: String| CatalogError::Connection {
        url: ":memory:".to_owned(),
        reason,
    };
    let connection =
        Connection::open_in_memory().map_err(|error| fail(format!("cannot open it: {error}")))?;
    configure(&connection).map_err(fail)?;
    Ok(connection)
}

fn configure(connection: &Connection) -> Result<(), String> {
    for (pragma, value) in [("synchronous", "FULL"), ("foreign_keys", "ON")] {
        connection
            .pragma_update(None, pragma, value)
            .map_err(|error| format!("cannot set {pragma} to {value}: {error}"))?;
    }
    // Statistics are gathered from samples of this many rows per index, so that keeping them
    // (`optimize`) costs milliseconds whatever the size of the catalog.
    let _: i64 = connection
        .pragma_update_and_check(None, "analysis_limit", ANALYSIS_LIMIT, |row| row.get(0))
        .map_err(|error| format!("cannot set analysis_limit to {ANALYSIS_LIMIT}: {error}"))?;
    Ok(())
}

/// The rows sampled per index when statistics are gathered (`PRAGMA analysis_limit`).
const ANALYSIS_LIMIT: i64 = 1000;

/// Brings the query planner's statistics (`sqlite_stat1`) up to date where the tables have
/// changed much since they were gathered, or were never gathered. Without them SQLite guesses
/// how selective each index is, and a search by place, time and property can pick the index
/// of the least selective one (measured: 200 ms instead of a few over a million products).
/// `opening` checks every table, as SQLite recommends when a long-lived connection opens;
/// otherwise only the tables this connection used since the last time.
pub(super) fn optimize(connection: &Connection, opening: bool) -> rusqlite::Result<()> {
    connection.execute_batch(if opening {
        "PRAGMA optimize = 0x10002"
    } else {
        "PRAGMA optimize"
    })
}

/// Brings the schema of `connection` (the file `name`) up to date. A file written by a newer
/// pvs, or an SQLite database of something else, is refused.
pub(super) fn migrate(connection: &mut Connection, name: &str) -> Result<()> {
    let newest = newest_version();
    let failed = |version: i32, doing: &str, error: rusqlite::Error| CatalogError::Migration {
        version,
        reason: format!("{doing} in the catalog file {name}: {error}"),
    };
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|error| failed(newest, "cannot start the migration transaction", error))?;
    let read = |pragma: &str| -> Result<i32> {
        transaction
            .pragma_query_value(None, pragma, |row| row.get(0))
            .map_err(|error| failed(newest, &format!("cannot read {pragma}"), error))
    };
    let application_id = read("application_id")?;
    let version = read("user_version")?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(CatalogError::Migration {
            version,
            reason: format!(
                "{name} is not a pvs catalog: its SQLite application id is {application_id:#010x}, \
                 a pvs catalog's is {APPLICATION_ID:#010x}"
            ),
        });
    }
    if version > newest {
        return Err(CatalogError::Migration {
            version,
            reason: format!(
                "the catalog file {name} has schema version {version}, but this pvs knows \
                 versions up to {newest} only: the file was written by a newer pvs; run that \
                 pvs on it (this one could misread or damage it)"
            ),
        });
    }
    if version == 0 && application_id == 0 {
        let tables: Vec<String> = transaction
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(|error| failed(newest, "cannot list the tables", error))?;
        if !tables.is_empty() {
            return Err(CatalogError::Migration {
                version,
                reason: format!(
                    "{name} is an SQLite database of something else, not a pvs catalog: it \
                     has the tables {}",
                    tables.join(", ")
                ),
            });
        }
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > version)
    {
        let file = migration.file();
        transaction
            .execute_batch(migration.sql)
            .map_err(|error| failed(migration.version, &format!("cannot apply {file}"), error))?;
        transaction
            .pragma_update(None, "user_version", migration.version)
            .map_err(|error| failed(migration.version, "cannot record it", error))?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            file = name,
            "applied catalog schema migration"
        );
    }
    transaction
        .pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(|error| failed(newest, "cannot record the application id", error))?;
    transaction
        .commit()
        .map_err(|error| failed(newest, "cannot commit the migrations", error))
}
