//! The storage contract (`pvs_storage::contract`) against every backend: `memory://`,
//! `file://` and a real S3-compatible server (`scripts/s3-server.sh start`).

/// One test per contract function; `$open` gives a fresh `support::TestStorage`.
macro_rules! contract_tests {
    ($open:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let test = $open(stringify!($name)).await;
                pvs_storage::contract::$name(&test.storage).await;
            }
        )+
    };
}

macro_rules! all_contract_tests {
    ($open:expr) => {
        contract_tests!(
            $open;
            put_get_round_trip,
            get_range,
            head,
            list_under_prefix,
            get_object_with_info,
            list_children_of_prefix,
            delete_then_not_found,
            missing_is_not_found,
            overwrite,
            put_file_large,
            unsafe_keys_refused,
            ping,
        );
    };
}

mod memory {
    use crate::support::{self, TestStorage};

    async fn open(_test: &str) -> TestStorage {
        support::memory()
    }

    all_contract_tests!(open);
}

mod file {
    use crate::support::{self, TestStorage};

    async fn open(_test: &str) -> TestStorage {
        support::file()
    }

    all_contract_tests!(open);
}

mod s3 {
    use crate::support::{self, TestStorage};

    async fn open(test: &str) -> TestStorage {
        support::s3(&format!("contract/{test}")).await
    }

    all_contract_tests!(open);
}
