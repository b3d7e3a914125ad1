//! A schema change of either backend: an SQL file `NNNN_name.sql` embedded in the binary,
//! applied once, in version order. Each backend keeps its own files (PostgreSQL and SQLite
//! speak different SQL) and records what it applied its own way.

/// One schema change: `migrations/NNNN_name.sql`.
pub(crate) struct Migration {
    pub(crate) version: i32,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

impl Migration {
    /// Its file name, `NNNN_name.sql`.
    pub(crate) fn file(&self) -> String {
        format!("{:04}_{}.sql", self.version, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::Migration;

    /// Asserts that `migrations` are the files of `directory`: versions 1, 2, 3... in order,
    /// one file each, named `NNNN_name.sql`, with the same text.
    fn assert_match_directory(migrations: &[Migration], directory: &str) {
        let mut files: Vec<String> = std::fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let embedded: Vec<String> = migrations.iter().map(Migration::file).collect();
        assert_eq!(files, embedded);
        for (index, migration) in migrations.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1);
            let on_disk =
                std::fs::read_to_string(format!("{directory}/{}", embedded[index])).unwrap();
            assert_eq!(migration.sql, on_disk);
        }
    }

    #[test]
    fn embedded_postgis_migrations_match_the_directory() {
        assert_match_directory(
            crate::postgis::migrations::MIGRATIONS,
            concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
        );
    }

    #[test]
    fn embedded_sqlite_migrations_match_the_directory() {
        assert_match_directory(
            crate::sqlite::schema::MIGRATIONS,
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/sqlite/migrations"),
        );
    }
}
