//! A test that keeps the simulator an independent oracle: it names none of the console's API types or parsers.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/simulator`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("src/simulator is readable");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_simulator_shares_no_types_with_the_console_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/simulator");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 10, "found only {files:?}");
    // Spelt in pieces so that this file does not match itself.
    let banned = [
        concat!("crate", "::", "upstream"),
        concat!("crate", "::", "domain"),
        concat!("super", "::", "super", "::", "upstream"),
        concat!("super", "::", "super", "::", "domain"),
    ];
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for needle in banned {
            assert!(
                !text.contains(needle),
                "{} uses {needle}: the simulator must keep its own wire types and validation",
                file.display()
            );
        }
        // Small modules, each saying what it owns.
        assert!(
            text.starts_with("//! "),
            "{} has no //! doc",
            file.display()
        );
        let lines = text.lines().count();
        assert!(lines <= 600, "{} has {lines} lines", file.display());
    }
}
