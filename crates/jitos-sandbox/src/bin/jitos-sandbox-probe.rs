//! Escape probe for the sandbox tests: tries one action, exits 0 if it worked, 1 if refused.
//!
//! Usage: `jitos-sandbox-probe ACTION [ARG]`. Exit code 2 means a usage error, so that
//! a typo in a test can never pass as "refused".

#![allow(unsafe_code)] // The probe makes raw system calls on purpose.

use std::ffi::CString;
use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let action = args.first().map(String::as_str).unwrap_or("");
    let arg = args.get(1).map(String::as_str).unwrap_or("");
    let result = match action {
        "write" => std::fs::File::create(arg).and_then(|mut f| f.write_all(b"escaped")),
        "read" => std::fs::File::open(arg).and_then(|mut f| f.read(&mut [0u8; 16]).map(|_| ())),
        "inet-socket" => std::net::UdpSocket::bind("127.0.0.1:0").map(|_| ()),
        "tcp-connect" => std::net::TcpStream::connect(("127.0.0.1", port(arg))).map(|_| ()),
        "ptrace" => ptrace_attach(arg),
        "mount" => mount_tmpfs(arg),
        "mknod-block" => {
            let path = cstr(arg);
            // SAFETY: path is a live NUL-terminated string; device 7,0 is loop0.
            sys(
                unsafe { libc::mknod(path.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) }
                    .into(),
            )
        }
        // SAFETY: unshare takes flags only.
        "unshare-user" => sys(unsafe { libc::unshare(libc::CLONE_NEWUSER) }.into()),
        "io-uring" => io_uring(),
        "bpf" => bpf_map(),
        // SAFETY: KEYCTL_GET_KEYRING_ID takes integer arguments only.
        "keyctl" => sys(unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                0,  /* GET_KEYRING_ID */
                -3, /* SESSION */
                1,
            )
        }),
        // SAFETY: getpid through its x32 number takes no arguments.
        "x32-getpid" => sys(unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) }),
        "exec" => exec(arg),
        "fork" => fork_many(1),
        "fork-bomb" => fork_many(port(arg).into()),
        "mem-bomb" => {
            let mut v: Vec<u8> = Vec::new();
            v.try_reserve_exact(2 << 30)
                .map_err(|_| std::io::Error::from_raw_os_error(libc::ENOMEM))
        }
        "nnp-clear" => {
            // SAFETY: PR_GET_NO_NEW_PRIVS reads a flag.
            match unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } {
                0 => Ok(()),
                _ => Err(std::io::Error::other("no_new_privs is set")),
            }
        }
        _ => {
            eprintln!("unknown action {action:?}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => {
            println!("{action}: succeeded");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{action}: refused: {e}");
            ExitCode::from(1)
        }
    }
}

fn port(arg: &str) -> u16 {
    arg.parse().unwrap_or(0)
}

fn sys(ret: libc::c_long) -> std::io::Result<()> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn ptrace_attach(pid: &str) -> std::io::Result<()> {
    let pid: libc::pid_t = pid.parse().unwrap_or(0);
    // SAFETY: PTRACE_ATTACH takes a pid and null pointers.
    sys(unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid, 0usize, 0usize) })?;
    // SAFETY: detach again so the target keeps running.
    unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0usize, 0usize) };
    Ok(())
}

fn mount_tmpfs(dir: &str) -> std::io::Result<()> {
    let (src, target, fstype) = (cstr("none"), cstr(dir), cstr("tmpfs"));
    // SAFETY: all pointers are live NUL-terminated strings; data is null.
    sys(unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    }
    .into())?;
    // SAFETY: as above.
    unsafe { libc::umount2(target.as_ptr(), 0) };
    Ok(())
}

fn io_uring() -> std::io::Result<()> {
    let mut params = [0u8; 120]; // struct io_uring_params
                                 // SAFETY: params is a zeroed io_uring_params-sized buffer the kernel may write.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    sys(fd)
}

fn bpf_map() -> std::io::Result<()> {
    // union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size, max_entries.
    let mut attr = [0u32; 32];
    attr[0] = 2; // BPF_MAP_TYPE_ARRAY
    attr[1] = 4;
    attr[2] = 4;
    attr[3] = 1;
    // SAFETY: attr is a live buffer at least as large as the kernel reads.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0, /* MAP_CREATE */
            attr.as_mut_ptr(),
            128u32,
        )
    };
    sys(fd)
}

fn exec(path: &str) -> std::io::Result<()> {
    let path = cstr(path);
    let argv = [path.as_ptr(), std::ptr::null()];
    // SAFETY: argv is NUL-terminated and points at live strings; execv only returns on error.
    unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
    Err(std::io::Error::last_os_error())
}

/// Forks `count` children that sleep; succeeds only if all forks worked.
fn fork_many(count: u32) -> std::io::Result<()> {
    let mut children = Vec::new();
    let mut result = Ok(());
    for _ in 0..count {
        // SAFETY: the child only sleeps and exits, both async-signal-safe.
        match unsafe { libc::fork() } {
            -1 => {
                result = Err(std::io::Error::last_os_error());
                break;
            }
            0 => unsafe {
                // SAFETY: sleep and _exit are async-signal-safe.
                libc::sleep(10);
                libc::_exit(0)
            },
            pid => children.push(pid),
        }
    }
    for pid in children {
        // SAFETY: kill and waitpid on our own children.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    result
}
