//! `docs/configuration.md` must show exactly the variables the code reads.

use pvs_service::config::markdown_table;

#[test]
fn configuration_doc_lists_every_variable_as_the_code_declares_it() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let doc = std::fs::read_to_string(path).expect("docs/configuration.md is readable");
    let table = markdown_table();
    assert!(
        doc.contains(&table),
        "docs/configuration.md is out of date; its variable table must be exactly:\n\n{table}"
    );
}

#[test]
fn operations_guide_names_every_variable_in_its_configuration_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md");
    let doc = std::fs::read_to_string(path).expect("docs/operations.md is readable");
    let section = doc
        .split("### Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Configuration section");
    let rows: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    for var in pvs_service::config::vars::ALL {
        assert!(
            rows.contains(&var.name),
            "docs/operations.md's configuration table has no row for {}",
            var.name
        );
    }
    for name in rows
        .iter()
        .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
    {
        assert!(
            pvs_service::config::vars::ALL
                .iter()
                .any(|v| v.name == *name),
            "docs/operations.md lists {name}, which pvs does not read"
        );
    }
}
