//! Kernel interfaces: rebuilding the file system's view, namespaces, io_uring, BPF,
//! perf, keyrings, x32 numbers, terminals and leaked descriptors.

use std::os::fd::AsRawFd;

use jitos_sandbox::Confinement;

use crate::harness::{confinement, s, Control, Ended, Runner, HANDED_FD, PROFILES};

#[test]
fn mount_pivot_root_and_chroot_are_refused() {
    // Goal: no view of the file system can be rebuilt; method: mount a tmpfs, pivot_root
    // and chroot into a temp dir (the controls, which need privileges, undo or confine
    // only themselves).
    let runner = Runner::new();
    let rw = runner.tempdir();
    for action in ["mount", "chroot"] {
        runner.refused_beside(
            |p| confinement(p, &[rw.path()]),
            Control::Privileged,
            None,
            &[action, s(rw.path())],
        );
    }
    // pivot_root needs a mount point as new root, so even the control fails with EINVAL
    // on a plain dir; the confined call must fail earlier, with EPERM from seccomp.
    for profile in PROFILES {
        let conf = confinement(profile, &[rw.path()]);
        let (ended, text) = runner.confined(&conf, None, &["pivot-root", s(rw.path())]);
        assert!(
            ended == Ended::Refused && text.contains("os error 1)"),
            "{text}"
        );
    }
    if crate::harness::is_root() {
        let (_, text) = runner.unconfined(Control::Privileged, None, &["pivot-root", s(rw.path())]);
        assert!(!text.contains("os error 1)"), "control: {text}");
    }
}

#[test]
fn unshare_clone_and_setns_are_refused() {
    // Goal: no new or other namespaces, where a child would hold every capability again;
    // method: unshare(CLONE_NEWUSER), clone(CLONE_NEWUSER), and setns into this process's
    // own UTS namespace through a descriptor handed to the probe.
    let runner = Runner::new();
    runner.refused(&["unshare-user"]);
    runner.refused(&["clone-userns"]);
    let ns = std::fs::File::open("/proc/self/ns/uts").unwrap();
    runner.refused_beside(
        Confinement::new,
        Control::Privileged,
        Some(ns.as_raw_fd()),
        &["setns", &HANDED_FD.to_string()],
    );
}

#[test]
fn io_uring_is_refused() {
    // Goal: io_uring (which bypasses seccomp per-op) is off; method: io_uring_setup.
    Runner::new().refused(&["io-uring"]);
}

#[test]
fn bpf_perf_and_keyctl_are_refused() {
    // Goal: no BPF maps, perf events or kernel keyrings; method: one call of each (BPF
    // maps and kernel-wide perf events need privileges even unconfined).
    let runner = Runner::new();
    for action in ["bpf", "perf"] {
        runner.refused_beside(Confinement::new, Control::Privileged, None, &[action]);
    }
    runner.refused(&["keyctl"]);
}

#[test]
fn x32_syscalls_are_refused() {
    // Goal: x32 numbers cannot slip past the native deny list; method: call getpid by its
    // x32 number and expect the guard's EPERM (an unguarded kernel answers success, or
    // ENOSYS when built without x32).
    let runner = Runner::new();
    for profile in PROFILES {
        let (ended, text) = runner.confined(&Confinement::new(profile), None, &["x32-getpid"]);
        assert!(
            ended == Ended::Refused && text.contains("os error 1)"),
            "expected EPERM under {profile:?}, got {text}"
        );
    }
    let (ended, text) = runner.unconfined(Control::Runner, None, &["x32-getpid"]);
    assert!(
        ended == Ended::Succeeded || !text.contains("os error 1)"),
        "control must not see EPERM: {text}"
    );
}

#[test]
fn tiocsti_is_refused() {
    // Goal: a worker cannot push keystrokes into a terminal; method: TIOCSTI on a pty the
    // test opens and hands over (only a privileged caller may do it to a terminal that is
    // not its own, so that is the control).
    let runner = Runner::new();
    // SAFETY: posix_openpt, grantpt, unlockpt and ptsname_r are called on the new master.
    let (master, slave) = unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 64];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let name = std::ffi::CStr::from_ptr(name.as_ptr()).to_str().unwrap();
        (
            master,
            std::fs::File::options()
                .read(true)
                .write(true)
                .open(name)
                .unwrap(),
        )
    };
    runner.refused_beside(
        Confinement::new,
        Control::Privileged,
        Some(slave.as_raw_fd()),
        &["tiocsti", &HANDED_FD.to_string()],
    );
    // SAFETY: the master descriptor was opened above and is not used again.
    unsafe { libc::close(master) };
}

#[test]
fn leaked_descriptors_do_not_reach_the_worker() {
    // Goal: only stdio (and the channel, handed over after confinement) cross into a
    // worker; method: leave a descriptor without close-on-exec in this process, as a
    // careless library would, and look for it from the probe.
    let file = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: dup returns a new descriptor without close-on-exec, closed below.
    let leaked = unsafe { libc::dup(file.as_raw_fd()) };
    assert!(leaked >= 3);
    Runner::new().refused(&["leaked-fds"]);
    // SAFETY: the descriptor was created above and is not used again.
    unsafe { libc::close(leaked) };
}

#[test]
fn system_v_ipc_of_others_is_out_of_reach() {
    // Goal: no reading or writing another program's System V shared memory (or that of
    // a program that had the same uid before); method: attach to a segment this test
    // made, readable by everyone.
    let runner = Runner::new();
    let key = 0x4A49_0000 + std::process::id() as libc::key_t % 0xFFFF;
    // SAFETY: shmget takes integers; the segment is removed below.
    let id = unsafe { libc::shmget(key, 4096, libc::IPC_CREAT | libc::IPC_EXCL | 0o666) };
    assert!(id >= 0, "shmget: {}", std::io::Error::last_os_error());
    let key = key.to_string();
    let outcome = std::panic::catch_unwind(|| {
        runner.refused_beside(
            Confinement::new,
            Control::Runner,
            None,
            &["shm-attach", &key],
        )
    });
    // SAFETY: removes the segment made above.
    unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
