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
