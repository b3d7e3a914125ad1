//! The PostGIS schema, as embedded, versioned migrations applied at connect time.

use deadpool_postgres::Client;

use super::describe;
use crate::migration::Migration;
use crate::{CatalogError, Result};

/// Every migration, in order. Append only: an applied migration must never change.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "properties",
        sql: include_str!("../../migrations/0002_properties.sql"),
    },
    Migration {
        version: 3,
        name: "footprint_time_index",
        sql: include_str!("../../migrations/0003_footprint_time_index.sql"),
    },
    Migration {
        version: 4,
        name: "ids_per_collection",
        sql: include_str!("../../migrations/0004_ids_per_collection.sql"),
    },
    Migration {
        version: 5,
        name: "product_changes",
        sql: include_str!("../../migrations/0005_product_changes.sql"),
    },
];

/// The advisory lock that serialises migrations across processes ("pvs_cat1").
const MIGRATION_LOCK: i64 = 0x7076_735f_6361_7431;

const CREATE_HISTORY: &str = "CREATE TABLE IF NOT EXISTS pvs_schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Applies the migrations that the database has not recorded yet, each in its own
/// transaction holding [`MIGRATION_LOCK`], and checks that the recorded ones are unchanged.
pub(crate) async fn migrate(client: &mut Client) -> Result<()> {
    for migration in MIGRATIONS {
        apply(client, migration).await?;
    }
    let newest = MIGRATIONS.last().map_or(0, |migration| migration.version);
    let unknown = client
        .query(
            "SELECT version, name FROM pvs_schema_migrations WHERE version > $1 ORDER BY version",
            &[&newest],
        )
        .await
        .map_err(|error| CatalogError::Migration {
            version: newest,
            reason: format!("cannot read pvs_schema_migrations: {}", describe(&error)),
        })?;
    for row in unknown {
        let (version, name): (i32, String) = (row.get(0), row.get(1));
        tracing::warn!(
            version,
            name,
            "the catalog database has a schema migration this pvs does not know: it was \
             migrated by a newer pvs"
        );
    }
    Ok(())
}

async fn apply(client: &mut Client, migration: &Migration) -> Result<()> {
    let file = migration.file();
    let fail = |doing: &str, error: tokio_postgres::Error| CatalogError::Migration {
        version: migration.version,
        reason: format!("{doing} ({file}): {}", describe(&error)),
    };
    let transaction = client
        .transaction()
        .await
        .map_err(|error| fail("cannot start its transaction", error))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|error| fail("cannot take the migration lock", error))?;
    transaction
        .batch_execute(CREATE_HISTORY)
        .await
        .map_err(|error| fail("cannot create pvs_schema_migrations", error))?;
    let checksum: String = transaction
        .query_one(
            "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')",
            &[&migration.sql],
        )
        .await
        .map_err(|error| fail("cannot compute its checksum", error))?
        .get(0);
    let recorded = transaction
        .query_opt(
            "SELECT checksum FROM pvs_schema_migrations WHERE version = $1",
            &[&migration.version],
        )
        .await
        .map_err(|error| fail("cannot read pvs_schema_migrations", error))?;
    if let Some(row) = recorded {
        let recorded: String = row.get(0);
        if recorded != checksum {
            return Err(CatalogError::Migration {
                version: migration.version,
                reason: format!(
                    "the database recorded checksum {recorded} for it, but the embedded {file} \
                     has checksum {checksum}: the migration was changed after it was applied \
                     (restore it and put schema changes in a new migration)"
                ),
            });
        }
        return Ok(());
    }
    transaction
        .batch_execute(migration.sql)
        .await
        .map_err(|error| fail("cannot apply it", error))?;
    transaction
        .execute(
            "INSERT INTO pvs_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&migration.version, &migration.name, &checksum],
        )
        .await
        .map_err(|error| fail("cannot record it", error))?;
    transaction
        .commit()
        .await
        .map_err(|error| fail("cannot commit it", error))?;
    tracing::info!(
        version = migration.version,
        name = migration.name,
        "applied catalog schema migration"
    );
    Ok(())
}
