//! The transmit buffer: bytes waiting to be written to the stream.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::{Buf, Bytes, BytesMut};

use super::frame::{encode_frame, encode_header, encode_inline_frame};
use crate::msg::Msg;

/// Payloads of at least this many bytes are handed out as their own segment
/// (written from the message's buffer, without a copy); smaller frames are
/// copied into one contiguous buffer.
pub const ZERO_COPY_THRESHOLD: usize = 8 * 1024;

/// How many segments [`OutBuf::write_to`] passes to one `write_vectored`.
const MAX_IOVECS: usize = 64;

/// Bytes waiting to be written, in order: a queue of frozen segments (large
/// payloads, and the small-frame buffer as it was before each of them)
/// followed by the buffer small frames are currently copied into.
///
/// It implements [`bytes::Buf`], so a writer can use
/// [`Buf::chunks_vectored`] for `writev` and [`Buf::advance`] by what was
/// written; [`OutBuf::write_to`] does exactly that on any [`Write`].
#[derive(Debug, Default)]
pub struct OutBuf {
    segs: VecDeque<Bytes>,
    seg_bytes: usize,
    buf: BytesMut,
}

impl OutBuf {
    /// An empty buffer.
    pub fn new() -> OutBuf {
        OutBuf::default()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.seg_bytes == 0 && self.buf.is_empty()
    }

    /// The number of bytes waiting.
    pub fn len(&self) -> usize {
        self.seg_bytes + self.buf.len()
    }

    /// The buffer small frames and commands are encoded into.
    pub(crate) fn bytes_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    fn seal(&mut self) {
        if !self.buf.is_empty() {
            let b = self.buf.split().freeze();
            self.seg_bytes += b.len();
            self.segs.push_back(b);
        }
    }

    /// Encodes one message frame. Large shared payloads are queued by
    /// reference; everything else is copied.
    #[inline]
    pub fn push_msg(&mut self, msg: &Msg, more: bool) {
        if let Some(window) = msg.inline_window() {
            encode_inline_frame(&mut self.buf, more, window, msg.len());
            return;
        }
        match msg.shared() {
            Some(b) if b.len() >= ZERO_COPY_THRESHOLD => {
                encode_header(&mut self.buf, more, false, b.len());
                self.seal();
                self.seg_bytes += b.len();
                self.segs.push_back(b.clone());
            }
            _ => encode_frame(&mut self.buf, more, false, msg),
        }
    }

    /// Writes as much as `w` accepts in one vectored write and drops it from
    /// the buffer. Returns the number of bytes written.
    pub fn write_to<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<usize> {
        if self.is_empty() {
            return Ok(0);
        }
        let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
        let n = self.chunks_vectored(&mut iov);
        let written = w.write_vectored(&iov[..n])?;
        self.advance(written);
        Ok(written)
    }

    /// Moves everything waiting into one contiguous `Bytes` (copies; meant
    /// for tests and small transfers).
    pub fn take_all(&mut self) -> Bytes {
        let n = self.len();
        self.copy_to_bytes(n)
    }
}

impl Buf for OutBuf {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        match self.segs.front() {
            Some(s) => s,
            None => &self.buf,
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let segs = self.segs.iter().map(|b| &b[..]);
        for s in segs.chain(std::iter::once(&self.buf[..])) {
            if n == dst.len() {
                break;
            }
            if !s.is_empty() {
                dst[n] = IoSlice::new(s);
                n += 1;
            }
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.segs.front_mut() else {
                break;
            };
            let k = cnt.min(front.len());
            front.advance(k);
            self.seg_bytes -= k;
            cnt -= k;
            if front.is_empty() {
                self.segs.pop_front();
            }
        }
        let k = cnt.min(self.buf.len());
        self.buf.advance(k);
    }
}
