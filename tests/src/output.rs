//! Reading and checking the output of a finished process.

use std::process::Output;

/// Standard output as text.
pub fn stdout_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the process exited 0 and returns its standard output; `what` names the command.
#[track_caller]
pub fn assert_success(what: &str, output: &Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout_text(output),
        stderr_text(output)
    );
    stdout_text(output)
}

/// Asserts the process exited non-zero (and was not killed by a signal) and returns its
/// standard output and standard error joined, for checking the message.
#[track_caller]
pub fn assert_failure(what: &str, output: &Output) -> String {
    assert!(
        !output.status.success() && output.status.code().is_some(),
        "{what} should have failed with an exit code, but ended with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout_text(output),
        stderr_text(output)
    );
    format!("{}{}", stdout_text(output), stderr_text(output))
}
