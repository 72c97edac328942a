//! Files: reads, writes and execs outside the granted paths, by every route.

use std::path::PathBuf;

use jitos_sandbox::Confinement;

use crate::harness::{confinement, s, Control, Ended, Runner, PROFILES};

#[test]
fn write_inside_read_write_succeeds() {
    // Goal: the granted directory is usable; method: write a file there under each profile.
    let runner = Runner::new();
    for profile in PROFILES {
        let rw = runner.tempdir();
        let conf = confinement(profile, &[rw.path()]);
        let target = rw.path().join("ok");
        assert_eq!(
            runner.probe(&conf, &["write", s(&target)]),
            Ended::Succeeded
        );
        assert_eq!(std::fs::read(target).unwrap(), b"escaped");
    }
}

#[test]
fn write_outside_read_write_is_refused() {
    // Goal: no writes beyond read_write; method: write into an ungranted temp dir.
    let runner = Runner::new();
    let (rw, outside) = (runner.tempdir(), runner.tempdir());
    let target = outside.path().join("x");
    runner.refused_writing_only(rw.path(), &["write", s(&target)]);
}

#[test]
fn read_outside_allowed_paths_is_refused_and_read_only_grants_reading() {
    // Goal: no reads beyond granted paths; method: read a secret in an ungranted dir, then
    // grant that dir read-only and read it (the positive control of the grant itself).
    let runner = Runner::new();
    let (rw, outside) = (runner.tempdir(), runner.tempdir());
    let secret = runner.secret_in(outside.path());
    runner.refused_writing_only(rw.path(), &["read", s(&secret)]);
    for profile in PROFILES {
        let mut ro = confinement(profile, &[rw.path()]);
        ro.read_only.push(outside.path().to_path_buf());
        assert_eq!(runner.probe(&ro, &["read", s(&secret)]), Ended::Succeeded);
        assert_eq!(runner.probe(&ro, &["write", s(&secret)]), Ended::Refused);
    }
}

#[test]
fn symlink_out_of_read_write_is_refused() {
    // Goal: a symlink cannot widen access; method: write through rw/link -> outside dir.
    let runner = Runner::new();
    let (rw, outside) = (runner.tempdir(), runner.tempdir());
    std::os::unix::fs::symlink(outside.path(), rw.path().join("link")).unwrap();
    let target = rw.path().join("link/x");
    runner.refused_writing_only(rw.path(), &["write", s(&target)]);
}

#[test]
fn dotdot_out_of_read_write_is_refused() {
    // Goal: `..` cannot climb out; method: write to rw/../<outside name>/x.
    let runner = Runner::new();
    let (rw, outside) = (runner.tempdir(), runner.tempdir());
    let name = outside.path().file_name().unwrap().to_str().unwrap();
    let target: PathBuf = rw.path().join("..").join(name).join("x");
    runner.refused_writing_only(rw.path(), &["write", s(&target)]);
}

#[test]
fn proc_self_root_does_not_reach_outside_files() {
    // Goal: the /proc/self/root magic link is no way around the path rules; method: read
    // the secret as /proc/self/root/<path>.
    let runner = Runner::new();
    let (rw, outside) = (runner.tempdir(), runner.tempdir());
    let secret = runner.secret_in(outside.path());
    runner.refused_writing_only(rw.path(), &["read-proc-root", s(&secret)]);
}

#[test]
fn device_node_in_read_write_is_refused() {
    // Goal: no raw disk can be reached through a device node made inside read_write;
    // method: mknod a block device there (only a privileged caller can make one at all).
    let runner = Runner::new();
    let rw = runner.tempdir();
    let control = runner.tempdir();
    for profile in PROFILES {
        let conf = confinement(profile, &[rw.path()]);
        let target = rw.path().join(format!("disk-{profile:?}"));
        assert_eq!(
            runner.probe(&conf, &["mknod-block", s(&target)]),
            Ended::Refused
        );
    }
    if crate::harness::is_root() {
        let node = control.path().join("disk");
        let (ended, text) =
            runner.unconfined(Control::Privileged, None, &["mknod-block", s(&node)]);
        assert_eq!(ended, Ended::Succeeded, "{text}");
    }
}

#[test]
fn exec_under_pure_is_refused_but_shell_may() {
    // Goal: Pure runs no other program; method: execv /bin/true under Pure, then Shell.
    let runner = Runner::new();
    assert_eq!(
        runner.probe(
            &Confinement::new(jitos_sandbox::Profile::Pure),
            &["exec", "/bin/true"]
        ),
        Ended::Refused
    );
    assert_eq!(
        runner.probe(
            &Confinement::new(jitos_sandbox::Profile::Shell),
            &["exec", "/bin/true"]
        ),
        Ended::Succeeded
    );
}

#[test]
fn exec_of_a_binary_outside_allowed_paths_is_refused() {
    // Goal: even Shell executes only system binaries and its own scratch; method: copy
    // /bin/true into an ungranted dir and exec it.
    let runner = Runner::new();
    let (rw, outside) = (runner.tempdir(), runner.tempdir());
    let copy = outside.path().join("true");
    std::fs::copy("/bin/true", &copy).unwrap();
    runner.give(&copy);
    runner.refused_writing_only(rw.path(), &["exec", s(&copy)]);
}

#[test]
fn pure_reads_no_configuration_and_shell_only_what_commands_need() {
    // Goal: the smallest read set per profile: Pure reads no file of /etc but the
    // linker's cache, Shell reads /etc/passwd but not the rest of /etc; method: read
    // /etc/passwd and /etc/debian_version (both world-readable, so the controls succeed).
    let runner = Runner::new();
    runner.refused_beside(
        |_| Confinement::new(jitos_sandbox::Profile::Pure),
        Control::Runner,
        None,
        &["read", "/etc/passwd"],
    );
    assert_eq!(
        runner.probe(
            &Confinement::new(jitos_sandbox::Profile::Shell),
            &["read", "/etc/passwd"]
        ),
        Ended::Succeeded
    );
    runner.refused(&["read", "/etc/debian_version"]);
}
