//! The two helpers every raw system call in the child needs: the errno of the call that
//! just failed, and a `-1` return turned into it.

/// The calling thread's errno.
pub(crate) fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// Turns a negative return into the current errno.
pub(crate) fn check(ret: libc::c_long) -> Result<(), i32> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}
