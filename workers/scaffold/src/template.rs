//! The files of a new worker crate, rendered from the templates under `templates/`.
//!
//! Templates are plain files so they read as the code they become; the only syntax is
//! `{{name}}` (the worker's name), `{{crate}}` (its library crate's Rust name) and
//! `{{sdk}}` (the directory holding `jitos-worker` and `jitos-warp`).

/// Each generated file: its path inside the new crate, and its template.
const TEMPLATES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/Cargo.toml.tmpl")),
    ("worker.toml", include_str!("../templates/worker.toml.tmpl")),
    ("src/lib.rs", include_str!("../templates/lib.rs.tmpl")),
    ("src/main.rs", include_str!("../templates/main.rs.tmpl")),
    (
        "tests/handler.rs",
        include_str!("../templates/handler.rs.tmpl"),
    ),
];

/// The path of the generated manifest, checked with the real parser before proposing.
pub const MANIFEST_PATH: &str = "worker.toml";

/// Renders every file of the crate for worker `name` depending on the SDK in `sdk`.
/// Both must have been checked: they are pasted into TOML strings and Rust literals.
pub fn render(name: &str, sdk: &str) -> Vec<(&'static str, String)> {
    let crate_name = format!("jitos_worker_{}", name.replace('-', "_"));
    TEMPLATES
        .iter()
        .map(|(path, template)| {
            let text = template
                .replace("{{name}}", name)
                .replace("{{crate}}", &crate_name)
                .replace("{{sdk}}", sdk);
            (*path, text)
        })
        .collect()
}
