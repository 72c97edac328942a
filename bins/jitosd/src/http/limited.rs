//! A listener that holds at most so many connections at once: the next waits in the
//! kernel's accept queue until one ends, so a flood of clients cannot take every file
//! descriptor the daemon needs for its socket, its store and its workers.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::serve::Listener;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{OwnedSemaphorePermit, Semaphore},
};

/// `L`, holding at most `max` connections.
pub struct Limited<L> {
    inner: L,
    slots: Arc<Semaphore>,
}

impl<L> Limited<L> {
    /// `inner`, holding at most `max` connections at once.
    pub fn new(inner: L, max: usize) -> Limited<L> {
        Limited {
            inner,
            slots: Arc::new(Semaphore::new(max)),
        }
    }
}

/// A connection, and its slot until it ends.
pub struct LimitedIo<T> {
    /// The connection.
    pub io: T,
    _slot: OwnedSemaphorePermit,
}

impl<L> Listener for Limited<L>
where
    L: Listener,
    L::Io: Unpin,
{
    type Io = LimitedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring fails only if it were.
        let slot = loop {
            if let Ok(slot) = Arc::clone(&self.slots).acquire_owned().await {
                break slot;
            }
        };
        let (io, addr) = self.inner.accept().await;
        (LimitedIo { io, _slot: slot }, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for LimitedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LimitedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
