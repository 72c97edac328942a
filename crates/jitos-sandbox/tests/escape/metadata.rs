//! Metadata: mode, owner, times and extended attributes of files outside the writable
//! paths, which Landlock does not govern and the private read-only view refuses.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::harness::{confinement, s, Control, Ended, Runner, PROFILES};

/// What the probes try to change about a file.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
    xattr: bool,
}

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let name = c"user.jitos-probe";
    let path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: both are live NUL-terminated strings; a null buffer of size 0 asks for the
    // value's length only.
    let xattr = unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    Stamp {
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        ctime: (meta.ctime(), meta.ctime_nsec()),
        xattr: xattr >= 0,
    }
}

/// The probes that change a file's metadata by its path.
const BY_PATH: [&str; 4] = ["chmod", "chown", "utimensat", "setxattr"];

#[test]
fn metadata_outside_the_writable_paths_stays_unchanged() {
    // Goal: no change of mode, owner, times or extended attributes outside the writable
    // paths, even to a file the program's own uid owns (so permissions allow it); method:
    // each change by path on a file in an ungranted dir and on one in a read-only dir,
    // and fchmod through a descriptor opened for reading there, under both profiles; the
    // files' metadata are compared before and after; then the same changes unconfined,
    // as the same uid, succeed.
    let runner = Runner::new();
    let (rw, outside, readable) = (runner.tempdir(), runner.tempdir(), runner.tempdir());
    let hidden = runner.secret_in(outside.path());
    let visible = runner.secret_in(readable.path());
    let before = (stamp(&hidden), stamp(&visible));
    for profile in PROFILES {
        let mut conf = confinement(profile, &[rw.path()]);
        conf.read_only.push(readable.path().to_owned());
        for action in BY_PATH {
            for file in [&hidden, &visible] {
                let (ended, text) = runner.confined(&conf, None, &[action, s(file)]);
                assert_eq!(
                    ended,
                    Ended::Refused,
                    "{action} {file:?} under {profile:?}: {text}"
                );
            }
        }
        let (ended, text) = runner.confined(&conf, None, &["fchmod", s(&visible)]);
        assert_eq!(ended, Ended::Refused, "fchmod under {profile:?}: {text}");
    }
    assert_eq!(
        (stamp(&hidden), stamp(&visible)),
        before,
        "metadata changed"
    );
    for action in BY_PATH.into_iter().chain(["fchmod"]) {
        let (ended, text) = runner.unconfined(Control::Runner, None, &[action, s(&visible)]);
        assert_eq!(ended, Ended::Succeeded, "control {action}: {text}");
    }
    assert_ne!(stamp(&visible), before.1, "the controls changed nothing");
}

#[test]
fn metadata_inside_the_writable_paths_can_change() {
    // Goal: the view leaves the writable paths fully usable (a build marks its outputs
    // executable, an archive restores times); method: every change on a file in the
    // writable directory, under both profiles.
    let runner = Runner::new();
    for profile in PROFILES {
        let rw = runner.tempdir();
        let file = runner.secret_in(rw.path());
        let conf = confinement(profile, &[rw.path()]);
        for action in BY_PATH.into_iter().chain(["fchmod"]) {
            let (ended, text) = runner.confined(&conf, None, &[action, s(&file)]);
            assert_eq!(
                ended,
                Ended::Succeeded,
                "{action} under {profile:?}: {text}"
            );
        }
    }
}

#[test]
fn a_read_only_mount_below_a_writable_path_stays_read_only() {
    // Goal: granting a directory writable does not make a read-only mount below it
    // writable; method: mount a read-only tmpfs inside the writable directory (so only a
    // privileged caller can set this up), write beside it (works) and into it (refused).
    if !crate::harness::is_root() {
        return;
    }
    let runner = Runner::new();
    let rw = runner.tempdir();
    let sub = rw.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let target = std::ffi::CString::new(sub.to_str().unwrap()).unwrap();
    // SAFETY: all pointers are live NUL-terminated strings; unmounted below.
    let mounted = unsafe {
        libc::mount(
            c"jitos-test".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_RDONLY,
            std::ptr::null(),
        )
    };
    assert_eq!(mounted, 0, "mount: {}", std::io::Error::last_os_error());
    let outcome = std::panic::catch_unwind(|| {
        for profile in PROFILES {
            let conf = confinement(profile, &[rw.path()]);
            let beside = rw.path().join(format!("beside-{profile:?}"));
            let (ended, text) = runner.confined(&conf, None, &["write", s(&beside)]);
            assert_eq!(ended, Ended::Succeeded, "{text}");
            let inside = sub.join("x");
            let (ended, text) = runner.confined(&conf, None, &["write", s(&inside)]);
            assert_eq!(ended, Ended::Refused, "{profile:?}: {text}");
        }
    });
    // SAFETY: the mount made above.
    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
