//! Worker manifests: the shipped one loads, and each kind of mistake is refused with a
//! message that names the field or the line.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use jitos_worker::{EffectClass, InputKind, Manifest, ManifestError, SandboxProfile};

const GOOD: &str = r#"
name = "noop"
version = "0.1.0"
binary = "jitos-worker-noop"
sandbox_profile = "pure"
effect_class = "none"
input_schema = { type = "bytes" }
needs = [{ path = "/usr/share/dict", access = "read" }]
limits = { processes = 8, cpu_seconds = 60 }
"#;

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(text, Path::new("worker.toml"))
}

// Goal: the noop worker's own manifest is valid. Method: load the shipped file.
#[test]
fn the_shipped_noop_manifest_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workers/noop/worker.toml");
    let manifest = Manifest::load(&path).unwrap();
    assert_eq!(manifest.name, "noop");
    assert_eq!(manifest.sandbox_profile, SandboxProfile::Pure);
    assert_eq!(manifest.effect_class, EffectClass::None);
    assert_eq!(manifest.input_schema.kind, InputKind::Bytes);
    assert!(manifest.reusable, "noop is the reusable built-in");
}

// Goal: `reusable` is read from the TOML, defaults to false, must be a boolean, and is
// refused for a worker that may start processes. Method: the good manifest without it (the
// control), with it, with a string, and with it under `shell`.
#[test]
fn reusable_is_read_checked_and_only_for_pure_workers() {
    assert!(!parse(GOOD).unwrap().reusable);
    assert!(parse(&format!("{GOOD}reusable = true\n")).unwrap().reusable);
    assert!(
        !parse(&format!("{GOOD}reusable = false\n"))
            .unwrap()
            .reusable
    );
    let error = parse(&format!("{GOOD}reusable = \"yes\"\n")).expect_err("a string was taken");
    assert!(error.to_string().contains("`reusable`"), "{error}");
    let shell = GOOD.replace("\"pure\"", "\"shell\"");
    assert!(parse(&shell).is_ok(), "control: the shell manifest parses");
    let error = parse(&format!("{shell}reusable = true\n")).expect_err("a reusable shell worker");
    assert!(
        error.to_string().contains("only a `pure` worker"),
        "{error}"
    );
}

// Goal: declaring `reusable` does not change the manifest's bincode, which `worker.install`
// records hold (old stores must still open). Method: encode the same manifest with and
// without it in bincode's standard configuration, as records are; the bytes are equal and
// decode strictly to a manifest that says false.
#[test]
fn reusable_is_not_in_the_recorded_encoding() {
    let plain = parse(GOOD).unwrap();
    let reusable = parse(&format!("{GOOD}reusable = true\n")).unwrap();
    assert_ne!(plain, reusable, "control: the two differ in memory");
    let plain_bytes = jitos_proto::encode_message(&plain).unwrap();
    let reusable_bytes = jitos_proto::encode_message(&reusable).unwrap();
    assert_eq!(plain_bytes, reusable_bytes);
    let decoded: Manifest = jitos_proto::decode_message(&reusable_bytes).unwrap();
    assert_eq!(decoded, plain);
}

// Goal: each mistake is refused and named. Method: break one thing of a good manifest at a
// time; the good one itself is the control.
#[test]
fn each_mistake_is_refused_with_its_field_or_line() {
    let good = parse(GOOD).expect("control: the good manifest parses");
    assert_eq!(good.limits.processes, Some(8));
    assert_eq!(good.limits.address_space_mib, None);
    let cases: [(&str, &str, &str); 10] = [
        ("processes = 8", "processes = 0", "`limits`"),
        (
            "processes = 8",
            "processes = 8, open_files = 3",
            "open_files",
        ),
        ("processes = 8", "threads = 8", "threads"),
        ("name = \"noop\"", "name = \"No Op\"", "`name`"),
        (
            "binary = \"jitos-worker-noop\"",
            "binary = \"../bin/x\"",
            "`binary`",
        ),
        ("\"/usr/share/dict\"", "\"share/dict\"", "`needs`"),
        (
            "sandbox_profile = \"pure\"",
            "sandbox_profile = \"root\"",
            "line 5",
        ),
        ("version = \"0.1.0\"", "version = \"\"", "`version`"),
        (
            "effect_class = \"none\"",
            "effect_class = \"none\"\ncolour = \"blue\"",
            "colour",
        ),
        ("input_schema = { type = \"bytes\" }\n", "", "input_schema"),
    ];
    for (from, to, named) in cases {
        let text = GOOD.replace(from, to);
        let error = parse(&text).expect_err(&format!("accepted with {to:?}"));
        assert!(
            error.to_string().contains(named),
            "{error} does not name {named}"
        );
    }
}

// Goal: loading refuses what is no manifest file at all, at once: a FIFO (which would
// block a reader until a writer came) and a file past the size limit. Method: one of each,
// beside the good manifest as a file (the control).
#[test]
fn load_refuses_a_fifo_and_an_oversized_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, GOOD).unwrap();
    assert!(Manifest::load(&good).is_ok());

    let fifo = dir.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let error = Manifest::load(&fifo).expect_err("a FIFO loaded");
    assert!(error.to_string().contains("not a regular file"), "{error}");

    let big = dir.path().join("big.toml");
    let padding = "#".repeat(jitos_worker::MANIFEST_BYTES_MAX);
    std::fs::write(&big, format!("{GOOD}\n{padding}\n")).unwrap();
    let error = Manifest::load(&big).expect_err("an oversized manifest loaded");
    assert!(error.to_string().contains("larger than"), "{error}");
}
