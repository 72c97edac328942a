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
    assert!(error.to_string().contains("reusable = \"yes\""), "{error}");
    let shell = GOOD.replace("\"pure\"", "\"shell\"");
    assert!(parse(&shell).is_ok(), "control: the shell manifest parses");
    let error = parse(&format!("{shell}reusable = true\n")).expect_err("a reusable shell worker");
    assert!(
        error.to_string().contains("only a `pure` worker"),
        "{error}"
    );
}

// Goal: `reusable` survives the text an installed worker's record keeps, and a manifest
// that does not declare it renders as it did before the key existed. Method: render both
// and parse them back.
#[test]
fn reusable_survives_the_recorded_text() {
    let plain = parse(GOOD).unwrap();
    let reusable = parse(&format!("{GOOD}reusable = true\n")).unwrap();
    assert_ne!(plain, reusable, "control: the two differ in memory");
    let plain_text = plain.to_text().unwrap();
    assert!(!plain_text.contains("reusable"), "{plain_text}");
    assert_eq!(parse(&plain_text).unwrap(), plain);
    assert_eq!(parse(&reusable.to_text().unwrap()).unwrap(), reusable);
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

proptest::proptest! {
    // Goal: the text a manifest renders to (what a `worker.install@2` record keeps) parses
    // back to the same manifest, for any valid manifest. Method: random names, versions,
    // profiles, needs and limits, rendered and parsed.
    #[test]
    fn a_manifest_reads_back_from_its_text(
        name in "[a-z0-9-]{1,64}",
        version in "[0-9a-z.+~-]{1,64}",
        shell in proptest::bool::ANY,
        workspace in proptest::bool::ANY,
        json in proptest::bool::ANY,
        reusable in proptest::bool::ANY,
        needs in proptest::collection::vec(("/[a-zé ]{0,12}(/[a-z\"'\\\\]{1,8}){0,3}", proptest::bool::ANY), 0..4),
        limits in proptest::collection::vec(proptest::option::of(16u64..u64::from(u32::MAX)), 5),
    ) {
        let manifest = Manifest {
            name,
            version,
            binary: "jitos-worker-x".to_owned(),
            sandbox_profile: if shell { SandboxProfile::Shell } else { SandboxProfile::Pure },
            effect_class: if workspace { EffectClass::Workspace } else { EffectClass::None },
            input_schema: jitos_worker::InputSchema {
                kind: if json { InputKind::Json } else { InputKind::Bytes },
            },
            needs: needs
                .into_iter()
                .map(|(path, write)| jitos_worker::Need {
                    path: path.into(),
                    access: if write { jitos_worker::Access::Write } else { jitos_worker::Access::Read },
                })
                .collect(),
            limits: jitos_worker::LimitsRequest {
                cpu_seconds: limits[0],
                address_space_mib: limits[1],
                open_files: limits[2],
                processes: limits[3],
                file_size_mib: limits[4],
            },
            // Only a pure worker may be reusable.
            reusable: reusable && !shell,
            fetch: json,
        };
        let text = manifest.to_text().unwrap();
        proptest::prop_assert_eq!(parse(&text).unwrap(), manifest, "{}", text);
    }
}
