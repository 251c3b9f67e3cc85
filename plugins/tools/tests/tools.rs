//! Packaging a real guest: componentize the default and example plugins built by scripts/build-plugins.sh (or
//! `cargo build --target wasm32-unknown-unknown --release`), check the result, and round-trip the rules table.

use std::path::PathBuf;

use rentops_plugin_tools::*;
use rentops_rules::RulesTable;

fn target_dir() -> PathBuf {
    if let Ok(d) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = option_env!("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// The release core module of a guest crate, or None (with a message) when it has not been built.
fn core_module(crate_name: &str) -> Option<Vec<u8>> {
    let path =
        target_dir().join("wasm32-unknown-unknown/release").join(format!("{}.wasm", crate_name.replace('-', "_")));
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("SKIP: {} not built; run scripts/build-plugins.sh first", path.display());
            None
        }
    }
}

#[test]
fn componentizes_the_default_plugin_with_zero_imports() {
    let Some(core) = core_module("rentops-plugin-default") else { return };
    let component = componentize(&core).unwrap_or_else(|e| panic!("{e}"));
    let report = check_plugin(&component).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.imports, Vec::<String>::new());
    assert_eq!(report.contract.as_deref(), Some("1.0.0"));
    for iface in INTERFACES {
        assert!(report.exports.contains(&format!("rentops:rules/{iface}@1.0.0")), "{:?}", report.exports);
    }
    assert_eq!(report.table, None);
    assert!(component.len() < core.len(), "debug sections dropped: {} vs {}", component.len(), core.len());
    assert!(
        !custom_sections(&component)
            .unwrap_or_default()
            .iter()
            .any(|s| s.custom_name.as_deref().is_some_and(|n| n.starts_with(".debug_"))),
        "no DWARF at the top level"
    );
    // A component is not componentized twice.
    assert!(matches!(componentize(&component), Err(ToolsError::AlreadyComponent)));
}

#[test]
fn the_example_plugin_is_a_plugin_too() {
    let Some(core) = core_module("rentops-plugin-example") else { return };
    let component = componentize(&core).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check_plugin(&component).map(|r| r.contract).unwrap_or_else(|e| panic!("{e}")), Some("1.0.0".into()));
}

#[test]
fn table_section_round_trips_and_is_replaced_not_duplicated() {
    let Some(core) = core_module("rentops-plugin-default") else { return };
    let component = componentize(&core).unwrap_or_else(|e| panic!("{e}"));
    let mut table = RulesTable::product_default();
    table.name = "lotus".into();
    let json = table.to_json();
    let with = embed_table(&component, &json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_table(&with).unwrap_or_else(|e| panic!("{e}")), Some(json.clone()));
    let report = check_plugin(&with).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.table, Some(json));
    // Re-embedding replaces the table.
    table.version = "2".into();
    let json2 = table.to_json();
    let again = embed_table(&with, &json2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_table(&again).unwrap_or_else(|e| panic!("{e}")), Some(json2.clone()));
    let count = custom_sections(&again)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.custom_name.as_deref() == Some(TABLE_SECTION))
        .count();
    assert_eq!(count, 1);
    assert_eq!(without_table_len(&again), component.len(), "only the table section was added");
    // package() = componentize + embed
    let packaged = package(&core, Some(&table)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(packaged, again);
    // an invalid table is refused
    let mut bad = RulesTable::product_default();
    bad.dunning.tiers[1].from_day = 3;
    match embed_table(&component, &bad.to_json()) {
        Err(ToolsError::Table(msg)) => assert!(msg.contains("dunning.tiers[1].from_day: tiers overlap"), "{msg}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(embed_table(&core, &table.to_json()), Err(ToolsError::NotComponent)));
}

/// Size of a component minus its table section.
fn without_table_len(bytes: &[u8]) -> usize {
    let table: usize = custom_sections(bytes)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.custom_name.as_deref() == Some(TABLE_SECTION))
        .map(|s| s.range.len())
        .sum();
    bytes.len() - table
}

/// A core module importing `wasi_snapshot_preview1::fd_write`, assembled by hand.
fn module_with_wasi_import() -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type section: () -> ()
    let mut imp = vec![0x01, 22];
    imp.extend_from_slice(b"wasi_snapshot_preview1");
    imp.push(8);
    imp.extend_from_slice(b"fd_write");
    imp.extend_from_slice(&[0x00, 0x00]); // func, type 0
    m.push(0x02);
    m.push(imp.len() as u8);
    m.extend_from_slice(&imp);
    m
}

#[test]
fn refuses_imports_and_garbage() {
    match componentize(&module_with_wasi_import()) {
        Err(ToolsError::HasImports(names)) => assert_eq!(names, "wasi_snapshot_preview1::fd_write"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(componentize(b"not wasm at all"), Err(ToolsError::NotWasm)));
    assert!(matches!(read_table(b"\0asm\x0d\0\x01\0\x00\x05"), Err(ToolsError::Malformed(_))));
}

fn report(imports: &[&str], exports: &[&str]) -> ComponentReport {
    let exports: Vec<String> = exports.iter().map(|s| s.to_string()).collect();
    let versions: Vec<&str> = exports.iter().filter_map(|e| e.split_once('@').map(|(_, v)| v)).collect();
    ComponentReport {
        size: 1,
        imports: imports.iter().map(|s| s.to_string()).collect(),
        contract: versions.first().filter(|v| versions.iter().all(|x| x == *v)).map(|v| v.to_string()),
        exports,
        table: None,
    }
}

#[test]
fn verdicts_on_reports() {
    let all = |v: &str| INTERFACES.iter().map(|i| format!("rentops:rules/{i}@{v}")).collect::<Vec<_>>();
    let v1 = all("1.0.0");
    let v1: Vec<&str> = v1.iter().map(String::as_str).collect();
    assert!(check_report(&report(&[], &v1)).is_ok());
    let v13 = all("1.3.0");
    let v13: Vec<&str> = v13.iter().map(String::as_str).collect();
    assert!(check_report(&report(&[], &v13)).is_ok(), "a newer minor of a supported major is accepted");
    let v2 = all("2.0.0");
    let v2: Vec<&str> = v2.iter().map(String::as_str).collect();
    match check_report(&report(&[], &v2)) {
        Err(ToolsError::NotAPlugin(m)) => {
            assert_eq!(m, "contract rentops:rules@2.0.0 is not supported (this build runs 1.x)")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(check_report(&report(&["wasi:cli/environment@0.2.0"], &v1)), Err(ToolsError::HasImports(_))));
    match check_report(&report(&[], &v1[..4])) {
        Err(ToolsError::NotAPlugin(m)) => assert_eq!(m, "missing export rentops:rules/credit@1.0.0"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(check_report(&report(&[], &[])), Err(ToolsError::NotAPlugin(_))));
}
