//! Copying a confined command's output to ours: until the command's last process closes
//! it, or, when something it left in the background keeps it open, until it has been
//! quiet for a while.

use std::{
    io::{Read, Write},
    os::fd::AsFd,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use nix::poll::{PollFd, PollFlags, PollTimeout};

/// How often the copying thread looks whether it was told to stop.
const POLL_SLICE_MS: u16 = 50;

/// One stream being copied.
pub struct Relay {
    thread: JoinHandle<()>,
    stop: Arc<AtomicBool>,
    /// When data last arrived, or `None` while a write of it is still under way.
    last_read: Arc<Mutex<Option<Instant>>>,
}

impl Relay {
    /// Starts copying `from` into `to`.
    pub fn start(mut from: std::io::PipeReader, mut to: impl Write + Send + 'static) -> Relay {
        let stop = Arc::new(AtomicBool::new(false));
        let last_read = Arc::new(Mutex::new(Some(Instant::now())));
        let (stop_seen, last_set) = (Arc::clone(&stop), Arc::clone(&last_read));
        let thread = std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            while !stop_seen.load(Ordering::Relaxed) {
                let mut fds = [PollFd::new(from.as_fd(), PollFlags::POLLIN)];
                match nix::poll::poll(&mut fds, PollTimeout::from(POLL_SLICE_MS)) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                    Ok(_) => {}
                    Err(_) => break,
                }
                let read = match from.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => read,
                };
                *last_set.lock().unwrap_or_else(PoisonError::into_inner) = None;
                let written = to.write_all(chunk.get(..read).unwrap_or_default());
                *last_set.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                if written.is_err() {
                    break;
                }
            }
            let _ = to.flush();
        });
        Relay {
            thread,
            stop,
            last_read,
        }
    }

    /// Waits until the stream ends, or has been quiet for `quiet` with no write of its
    /// data under way; what was read is written out either way.
    pub fn finish(self, quiet: Duration) {
        while !self.thread.is_finished() {
            let idle = self
                .last_read
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some_and(|at| at.elapsed() >= quiet);
            if idle {
                self.stop.store(true, Ordering::Relaxed);
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.thread.join();
    }
}
