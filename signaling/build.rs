//! Lists the vendored browser files for the binary to embed: every file web/vendor/SHA256SUMS
//! records (scripts/vendor.sh writes both), so the table in web.rs can't drift from the vendor
//! directory.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let sums = "../web/vendor/SHA256SUMS";
    println!("cargo:rerun-if-changed={sums}");
    let text = std::fs::read_to_string(sums).unwrap_or_else(|e| panic!("reading {sums}: {e}"));
    let mut table = String::from("&[\n");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((_, name)) = line.split_once("  ") else {
            panic!("{sums}: \"{line}\" is not \"<sha256>  <path>\"");
        };
        if name == "importmap.json" {
            continue; // put inline in the pages (web.rs), not served as a file
        }
        let mime = match Path::new(name).extension().and_then(|e| e.to_str()) {
            Some("js" | "mjs") => "JS",
            _ => "TEXT",
        };
        writeln!(table, "    vendored!({name:?}, {mime}),").expect("writing to a String");
        println!("cargo:rerun-if-changed=../web/vendor/{name}");
    }
    table.push(']');
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    std::fs::write(Path::new(&out).join("vendored.rs"), table)
        .unwrap_or_else(|e| panic!("writing vendored.rs: {e}"));
}
