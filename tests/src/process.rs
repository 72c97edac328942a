//! Running a child process to completion within a time limit, so a hung daemon or CLI
//! fails its test instead of stalling the whole suite.

use std::{
    io::{Read, Write},
    process::{Child, Command, ExitStatus, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

/// How often a waiting loop looks at the child again.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Runs `command` with `stdin` as its standard input, collecting its output; kills it and
/// panics if it has not exited within `limit`.
pub fn run_bounded(command: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    // The pipes are drained on their own threads so a chatty child never blocks on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    if let Some(mut pipe) = child.stdin.take() {
        // A child that exits without reading its input closes the pipe; that is its business.
        let _ = pipe.write_all(stdin);
    }
    let status = wait_bounded(&mut child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{shown} did not exit within {limit:?}")
    });
    Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    }
}

/// Waits for `child` to exit; `None` if it is still running after `limit`.
pub(crate) fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
            Ok(None) => return None,
            Err(e) => panic!("cannot wait for child {}: {e}", child.id()),
        }
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

fn join(reader: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    reader
        .join()
        .unwrap_or_else(|_| panic!("a pipe-draining thread panicked"))
}
