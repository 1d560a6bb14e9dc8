//! The vendored browser libraries (web/vendor/, written by scripts/vendor.sh) as a browser will
//! load them: every import in every vendored file and every module of the client resolves, bare
//! ones through the import map, to a file that is vendored; yjs is one file, which every module
//! importing it reaches; and each file still has the sha256 SHA256SUMS records. (That those
//! hashes are the lockfile's packages is `scripts/vendor.sh --check`, run by scripts/test.sh.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// The specifiers of a module's static import and export declarations and side-effect imports.
/// The files are ES modules as published (not minified), one declaration per statement start.
fn imports(source: &str) -> Vec<String> {
    let declaration =
        Regex::new(r#"(?m)^[ \t]*(?:import|export)[\s{*][\w\s{},*$]*?\bfrom\s*['"]([^'"\n]+)['"]"#)
            .expect("a valid pattern");
    let side_effect =
        Regex::new(r#"(?m)^[ \t]*import\s*['"]([^'"\n]+)['"]"#).expect("a valid pattern");
    declaration
        .captures_iter(source)
        .chain(side_effect.captures_iter(source))
        .map(|c| c[1].to_string())
        .collect()
}

/// "a/b/../c.js" → "a/c.js".
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

struct Vendor {
    /// path under web/vendor/ → sha256 recorded
    sums: BTreeMap<String, String>,
    /// bare specifier → path under web/vendor/
    map: BTreeMap<String, String>,
}

fn vendor() -> Vendor {
    let dir = root().join("vendor");
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).expect("web/vendor/SHA256SUMS");
    let sums = sums
        .lines()
        .map(|l| {
            let (hash, name) = l
                .split_once("  ")
                .expect("SHA256SUMS lines are \"<hash>  <path>\"");
            (name.to_string(), hash.to_string())
        })
        .collect();
    let map: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("importmap.json")).expect("web/vendor/importmap.json"),
    )
    .expect("the import map is JSON");
    let map = map["imports"]
        .as_object()
        .expect("the import map has \"imports\"")
        .iter()
        .map(|(spec, url)| {
            let url = url.as_str().expect("an import map target is a string");
            let path = url
                .strip_prefix("/static/vendor/")
                .unwrap_or_else(|| panic!("{spec} maps to {url}, not to a vendored file"));
            (spec.clone(), path.to_string())
        })
        .collect();
    Vendor { sums, map }
}

#[test]
fn every_file_has_the_hash_recorded_for_it_and_nothing_unrecorded_is_vendored() {
    let v = vendor();
    let dir = root().join("vendor");
    for (name, hash) in &v.sums {
        let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            &hex(&Sha256::digest(&bytes)),
            hash,
            "web/vendor/{name} was changed"
        );
    }
    let mut found = BTreeSet::new();
    walk(&dir, &dir, &mut found);
    for own in [
        "package.json",
        "package-lock.json",
        "files.txt",
        "SHA256SUMS",
    ] {
        found.remove(own);
    }
    let recorded: BTreeSet<String> = v.sums.keys().cloned().collect();
    assert_eq!(found, recorded, "files in web/vendor/ against SHA256SUMS");
}

#[test]
fn every_import_of_every_vendored_file_and_client_module_resolves_to_a_vendored_file() {
    let v = vendor();
    // Paths relative to web/: vendor/<package>/... and static/<module>.js, as the server
    // serves them under /static/vendor/ and /static/.
    let mut modules: Vec<(String, PathBuf)> = v
        .sums
        .keys()
        .filter(|n| n.ends_with(".js") || n.ends_with(".mjs"))
        .map(|n| (format!("vendor/{n}"), root().join("vendor").join(n)))
        .collect();
    let client = std::fs::read_dir(root().join("static")).expect("web/static");
    for entry in client {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "js") {
            let name = path.file_name().expect("a file").to_string_lossy();
            modules.push((format!("static/{name}"), path));
        }
    }
    let mut checked = 0;
    let mut yjs_importers = 0;
    for (name, path) in &modules {
        let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        for spec in imports(&source) {
            let target = if spec.starts_with("./") || spec.starts_with("../") {
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                normalise(&format!("{dir}/{spec}"))
            } else if let Some(own) = spec.strip_prefix("/static/") {
                // /static/vendor/x is vendor/x; /static/x is static/x.
                if own.starts_with("vendor/") {
                    own.to_string()
                } else {
                    format!("static/{own}")
                }
            } else {
                let mapped = v.map.get(&spec);
                assert!(
                    mapped.is_some(),
                    "{name} imports \"{spec}\", which the import map lacks"
                );
                if spec == "yjs" {
                    yjs_importers += 1;
                }
                format!("vendor/{}", mapped.expect("checked"))
            };
            let exists = match target.strip_prefix("vendor/") {
                Some(vendored) => v.sums.contains_key(vendored),
                None => target.starts_with("static/") && root().join(&target).is_file(),
            };
            assert!(exists, "{name} imports \"{spec}\": {target} is not served");
            checked += 1;
        }
    }
    assert!(
        checked > 50,
        "only {checked} imports found: is the pattern still right?"
    );
    assert!(
        yjs_importers >= 3,
        "y-protocols, y-textarea and the client import yjs"
    );
}

#[test]
fn yjs_is_one_file() {
    // yjs marks its module with this global, and warns and misbehaves when a second copy loads.
    let v = vendor();
    let copies: Vec<&String> = v
        .sums
        .keys()
        .filter(|n| {
            std::fs::read_to_string(root().join("vendor").join(n))
                .is_ok_and(|s| s.contains("__ $YJS$ __"))
        })
        .collect();
    assert_eq!(copies, vec!["yjs/dist/yjs.mjs"], "yjs copies");
    assert_eq!(
        v.map.get("yjs").map(String::as_str),
        Some("yjs/dist/yjs.mjs")
    );
    // lib0's browser variants, not node's.
    for spec in ["lib0/webcrypto", "lib0/logging"] {
        let path = v
            .map
            .get(spec)
            .unwrap_or_else(|| panic!("{spec} is mapped"));
        assert!(!path.contains("node"), "{spec} maps to {path}");
    }
}

#[test]
fn the_import_scan_sees_what_a_browser_sees() {
    let src = "import * as a from 'lib0/a'\nimport {\n  b,\n  c as d\n} from \"./b.js\"\n\
        export { e } from './e.js'\nexport * from 'f'\nimport 'g'\n\
        /** @param {import('./types.js').T} t */\nconst x = 'import y from \"z\"'\n";
    assert_eq!(imports(src), ["lib0/a", "./b.js", "./e.js", "f", "g"]);
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            walk(base, &path, out);
        } else {
            let rel = path.strip_prefix(base).expect("under base");
            out.insert(rel.to_string_lossy().into_owned());
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
