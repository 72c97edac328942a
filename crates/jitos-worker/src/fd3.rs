//! `run`: adopts fd 3 as the daemon's socket and serves the protocol on it.

// Adopting an inherited descriptor needs `FromRawFd`, which is unsafe because the
// compiler cannot know who owns fd 3. This file is the one place in the crate that does
// it, and each unsafe block says why it is sound.
#![allow(unsafe_code)]

use std::{
    os::{fd::FromRawFd, unix::net::UnixStream},
    process::ExitCode,
};

use crate::{serve, Handler, ProtocolError};

/// The descriptor the daemon passes the worker's socket on.
const SOCKET_FD: i32 = 3;

/// A worker binary's `main`: takes the socket on fd 3, serves jobs with `handler` until
/// the daemon closes it, and returns success; any protocol error is printed to stderr
/// (which the daemon captures) and returns failure.
pub fn run<H: Handler>(name: &str, version: &str, handler: H) -> ExitCode {
    match take_socket().and_then(|stream| serve(stream, name, version, handler)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn take_socket() -> Result<UnixStream, ProtocolError> {
    // Adopting a closed descriptor would later close whatever reuses the number, so
    // first ask the kernel whether fd 3 is open at all.
    // SAFETY: F_GETFD only reads the descriptor's flags; no memory is passed.
    if unsafe { libc::fcntl(SOCKET_FD, libc::F_GETFD) } < 0 {
        return Err(ProtocolError::NoSocket(std::io::Error::last_os_error()));
    }
    // SAFETY: fd 3 is open (checked above) and nothing else in this process owns it: the
    // daemon passes it for the worker's exclusive use, and `run` is called once, from main.
    let stream = unsafe { UnixStream::from_raw_fd(SOCKET_FD) };
    // A non-socket fails here with ENOTSOCK; dropping `stream` then closes the fd, which
    // is the right thing for a descriptor this worker was not meant to have.
    stream.local_addr().map_err(ProtocolError::NoSocket)?;
    // Keeps the socket from leaking into anything the worker might execute.
    // SAFETY: F_SETFD with FD_CLOEXEC only changes the descriptor's flags.
    if unsafe { libc::fcntl(SOCKET_FD, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(ProtocolError::NoSocket(std::io::Error::last_os_error()));
    }
    Ok(stream)
}
