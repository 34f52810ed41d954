//! The layering of the server crate, checked: a module may use modules of its own layer
//! and of the layers below it, never of a layer above. ARCHITECTURE.md states the same
//! table in words; a new top-level module must be placed in it here.

/// The layers, top first. `main.rs` is the binary, above them all.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "composition root",
        &["startup", "config", "telemetry", "memory"],
    ),
    ("gRPC edge", &["grpc", "metrics"]),
    (
        "use cases",
        &[
            "usecases",
            "leaks",
            "verification",
            "audit",
            "idempotency",
            "bootstrap",
            "state",
        ],
    ),
    (
        "domain",
        &[
            "auth",
            "identity",
            "judgement",
            "index",
            "sealing",
            "usage",
            "validate",
            "clock",
            "error",
            "layering",
        ],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// Every `crate::module` a source file names, outside comments.
fn crate_modules_used(source: &str) -> Vec<String> {
    let mut used = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty()
                && !code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            {
                used.push(name);
            }
        }
    }
    used
}

fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs").to_owned())
            .expect("a file name");
        if top == "main" || top == "lib" {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            wrong.push(format!(
                "{}: module `{top}` is in no layer",
                relative.display()
            ));
            continue;
        };
        let source = std::fs::read_to_string(&file).expect("a source file");
        for used in crate_modules_used(&source) {
            match layer_of(&used) {
                Some(layer) if layer >= own => {}
                Some(layer) => wrong.push(format!(
                    "{}: `{top}` ({}) uses `crate::{used}` ({})",
                    relative.display(),
                    LAYERS[own].0,
                    LAYERS[layer].0
                )),
                None => wrong.push(format!(
                    "{}: `crate::{used}` is in no layer",
                    relative.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}
