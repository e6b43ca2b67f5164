//! Generates the action catalogue's index from the files in `src/actions/catalog/`, so that a new
//! bulk action is one new file there (plus its scope-table row) and cannot be forgotten in a list.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read at run time, not with `env!`: a build-script binary reused from another checkout's
    // target directory (a copied cache) must index this checkout's files, not the other's.
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&root).join("src/actions/catalog");
    println!("cargo:rerun-if-changed=src/actions/catalog");
    // `sqlx::migrate!` embeds `migrations/` when the crate compiles: a new migration file alone
    // must rebuild it too.
    println!("cargo:rerun-if-changed=migrations");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("src/actions/catalog is readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".rs")?;
            // `mod.rs` is the catalogue itself; `field.rs` and `change.rs` support it: the support
            // modules are listed in SUPPORT below.
            (!SUPPORT.contains(&stem)).then(|| stem.to_owned())
        })
        .collect();
    names.sort();
    let mut out = String::new();
    for n in &names {
        let path = dir.join(format!("{n}.rs"));
        writeln!(
            out,
            "#[path = {:?}]\npub mod {n};",
            path.display().to_string()
        )
        .ok();
    }
    out.push_str(
        "/// Every action module's [`Action`], in file order (menus sort by `menu_position`).\n",
    );
    out.push_str("pub(crate) static REGISTERED: &[&dyn Action] = &[\n");
    for n in &names {
        writeln!(out, "    &{n}::ACTION,").ok();
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalog_index.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Files in the catalogue folder that are not actions.
const SUPPORT: &[&str] = &["mod", "field", "change"];
