//! File trees through the real binaries: `jitos tree import`, `checkout` and `diff`,
//! `jitos blob gc`, and a blob damaged on disk.
#![allow(clippy::unwrap_used)]

use std::{
    fs,
    os::unix::fs::{symlink, PermissionsExt},
    path::Path,
};

use jitos_proto::{Request, Response};
use jitos_system_tests::{assert_failure, assert_success, call, flip_stored_byte, status, Sandbox};

/// Writes a small project: nested files, an executable script, an ignored build output,
/// a `.git` directory and a symlink that stays inside.
fn write_project(root: &Path) {
    fs::create_dir_all(root.join("src/nested")).unwrap();
    fs::create_dir_all(root.join("target")).unwrap();
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::write(
        root.join("src/lib.rs"),
        "pub fn answer() -> u32 {\n    41\n}\n",
    )
    .unwrap();
    fs::write(root.join("src/nested/data.bin"), [0u8, 159, 146, 150, 255]).unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join(".gitignore"), "target/\n").unwrap();
    fs::write(root.join("target/out.o"), "ignored").unwrap();
    fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    symlink("src/lib.rs", root.join("lib-link")).unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// Goal: import then checkout reproduces exactly the files, their bytes and their modes,
// without what .gitignore excludes. Method: import a project, check it out to a new
// directory and compare file by file.
#[test]
fn import_then_checkout_gives_the_same_bytes_and_modes() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let project = sandbox.path().join("project");
    write_project(&project);
    let text = assert_success(
        "jitos tree import",
        &sandbox.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    assert!(text.contains("4 files"), "{text}");

    let out = sandbox.path().join("out");
    assert_success(
        "jitos tree checkout",
        &sandbox.jitos(&["tree", "checkout", out.to_str().unwrap()]),
    );
    for file in ["src/lib.rs", "src/nested/data.bin", "run.sh", ".gitignore"] {
        assert_eq!(
            fs::read(out.join(file)).unwrap(),
            fs::read(project.join(file)).unwrap(),
            "{file}"
        );
    }
    assert_eq!(mode(&out.join("run.sh")), 0o755);
    assert_eq!(mode(&out.join("src/lib.rs")), 0o644);
    assert_eq!(
        fs::read_link(out.join("lib-link")).unwrap(),
        Path::new("src/lib.rs")
    );
    assert!(!out.join("target").exists(), "ignored files were recorded");
    assert!(!out.join(".git").exists(), ".git was recorded");

    // Importing the same directory again records an empty change.
    let before = status(&mut daemon.client()).digest;
    assert_success(
        "jitos tree import again",
        &sandbox.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    assert_eq!(status(&mut daemon.client()).digest, before);

    // A non-empty target directory is refused rather than overwritten.
    let refused = sandbox.jitos(&["tree", "checkout", out.to_str().unwrap()]);
    let text = assert_failure("checkout into a non-empty directory", &refused);
    assert!(text.contains("not empty"), "{text}");
    daemon.terminate();
}

// Goal: a change shows as a unified diff between two states, and old states check out as
// they were. Method: import, change one line, import again, diff the two seqs, check
// the first seq out.
#[test]
fn diff_between_states_and_checkout_of_the_past() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let project = sandbox.path().join("project");
    write_project(&project);
    let dir = project.to_str().unwrap();
    assert_success("import", &sandbox.jitos(&["tree", "import", dir]));
    let first = status(&mut daemon.client()).head_seq;
    fs::write(
        project.join("src/lib.rs"),
        "pub fn answer() -> u32 {\n    42\n}\n",
    )
    .unwrap();
    fs::set_permissions(project.join("run.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_success("import again", &sandbox.jitos(&["tree", "import", dir]));

    let text = assert_success(
        "jitos tree diff",
        &sandbox.jitos(&["tree", "diff", &first.to_string(), "head"]),
    );
    assert!(text.contains("--- a/src/lib.rs"), "{text}");
    assert!(text.contains("-    41\n+    42"), "{text}");
    assert!(text.contains("old mode 100755\nnew mode 100644"), "{text}");
    assert!(
        !text.contains("data.bin"),
        "an unchanged file is in the diff:\n{text}"
    );

    let output = sandbox.jitos(&["--json", "tree", "diff", &first.to_string()]);
    let changes: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(changes.as_array().map(Vec::len), Some(2), "{changes:#}");

    let past = sandbox.path().join("past");
    assert_success(
        "checkout --at",
        &sandbox.jitos(&[
            "tree",
            "checkout",
            past.to_str().unwrap(),
            "--at",
            &first.to_string(),
        ]),
    );
    assert!(fs::read_to_string(past.join("src/lib.rs"))
        .unwrap()
        .contains("41"));
    daemon.terminate();
}

// Goal: a symlink that leads outside the directory is refused and nothing is recorded.
// Method: import a directory with such a link; positive control: the same directory
// without it imports.
#[test]
fn symlinks_out_of_the_tree_are_refused() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let project = sandbox.path().join("project");
    write_project(&project);
    for target in ["../../etc/passwd", "/etc/passwd"] {
        let link = project.join("src/escape");
        let _ = fs::remove_file(&link);
        symlink(target, &link).unwrap();
        let head = status(&mut daemon.client()).head_seq;
        let output = sandbox.jitos(&["tree", "import", project.to_str().unwrap()]);
        let text = assert_failure("import with an escaping symlink", &output);
        assert!(text.contains("refusing the symlink"), "{text}");
        assert_eq!(
            status(&mut daemon.client()).head_seq,
            head,
            "something was recorded"
        );
    }
    fs::remove_file(project.join("src/escape")).unwrap();
    assert_success(
        "control import",
        &sandbox.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    daemon.terminate();
}

// Goal: a blob damaged on disk is detected when read, never handed out. Method: import,
// stop the daemon, flip a byte of one blob in RocksDB, restart and check out.
#[test]
fn a_blob_corrupted_on_disk_is_detected_on_read() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let project = sandbox.path().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("only.txt"), "precious bytes\n").unwrap();
    assert_success(
        "import",
        &sandbox.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    let tree = match call(
        &mut daemon.client(),
        &Request::TreeShow {
            sws: None,
            at: None,
        },
    ) {
        Response::Tree(tree) => tree,
        other => panic!("unexpected answer {other:?}"),
    };
    let blob = tree
        .entries
        .values()
        .find_map(|entry| match entry {
            jitos_tree::Entry::File { blob, .. } => Some(*blob),
            _ => None,
        })
        .unwrap();
    daemon.terminate();
    flip_stored_byte(&sandbox.store_dir(), "blobs", &blob.0);

    let daemon = sandbox.start();
    let output = sandbox.jitos(&[
        "tree",
        "checkout",
        sandbox.path().join("out").to_str().unwrap(),
    ]);
    let text = assert_failure("checkout of a corrupt blob", &output);
    assert!(text.contains("corrupt"), "{text}");
    assert!(
        !sandbox.path().join("out").exists(),
        "a partial checkout was left behind"
    );
    daemon.terminate();
}

// Goal: gc deletes exactly the blobs no record refers to. Method: store one blob that a
// tree uses and one that nothing uses, gc, and read both back.
#[test]
fn blob_gc_removes_only_unreferenced_blobs() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let project = sandbox.path().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("kept.txt"), "kept\n").unwrap();
    assert_success(
        "import",
        &sandbox.jitos(&["tree", "import", project.to_str().unwrap()]),
    );
    let mut client = daemon.client();
    let stray = match call(&mut client, &Request::PutBlobs(vec![b"stray".to_vec()])) {
        Response::BlobsStored(refs) => refs[0],
        other => panic!("unexpected answer {other:?}"),
    };
    let output = sandbox.jitos(&["--json", "blob", "gc"]);
    assert_success("jitos blob gc", &output);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["removed"].as_u64(), Some(1), "{report:#}");
    assert_eq!(report["kept"].as_u64(), Some(1), "{report:#}");
    assert!(matches!(
        call(&mut client, &Request::GetBlobs(vec![stray])),
        Response::Error(_)
    ));
    let out = sandbox.path().join("out");
    assert_success(
        "checkout after gc",
        &sandbox.jitos(&["tree", "checkout", out.to_str().unwrap()]),
    );
    assert_eq!(fs::read_to_string(out.join("kept.txt")).unwrap(), "kept\n");
    daemon.terminate();
}
