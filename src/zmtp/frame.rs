//! Frame codec (RFC 23/37 §Framing): an incremental decoder that slices
//! frames out of the read buffer, and header encoding.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::Error;
use crate::msg::Msg;

/// Flag bit: another frame of this message follows.
pub const FLAG_MORE: u8 = 0x01;
/// Flag bit: the size is an 8-byte big-endian integer.
pub const FLAG_LONG: u8 = 0x02;
/// Flag bit: the frame is a command.
pub const FLAG_COMMAND: u8 = 0x04;

/// The largest body a frame can declare (the spec's 2^63 − 1).
pub const MAX_FRAME_BODY: u64 = i64::MAX as u64;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A message frame; its MORE flag is set from the header.
    Message(Msg),
    /// A command frame's body (name length, name, data).
    Command(Bytes),
}

#[derive(Debug, Clone, Copy)]
enum State {
    Header,
    Body { flags: u8, size: usize },
}

/// An incremental frame decoder.
///
/// Bytes stay in the caller's read buffer until a whole frame is present, so
/// the result only depends on the byte stream, never on how it was split
/// into reads. Each declared size is checked against the limits as soon as
/// the header is complete, before anything is reserved; the decoder itself
/// never allocates (small bodies are copied into inline [`Msg`]s, large ones
/// are split off the read buffer).
///
/// ```
/// use bytes::BytesMut;
/// use ringmq::zmtp::{Frame, FrameDecoder};
///
/// let mut dec = FrameDecoder::new(None);
/// let mut rx = BytesMut::from(&b"\x01\x02hi\x00"[..]);
/// let Ok(Some(Frame::Message(m))) = dec.decode(&mut rx) else { panic!() };
/// assert!(m.more() && &m[..] == b"hi");
/// assert_eq!(dec.decode(&mut rx), Ok(None)); // half a header
/// rx.extend_from_slice(b"\x00");
/// let Ok(Some(Frame::Message(m))) = dec.decode(&mut rx) else { panic!() };
/// assert!(!m.more() && m.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    state: State,
    max_msg_size: Option<u64>,
    max_command_size: Option<u64>,
}

impl FrameDecoder {
    /// A decoder refusing message frames above `max_msg_size` bytes (`None`:
    /// no limit but the spec's 2^63 − 1 and the address space).
    pub fn new(max_msg_size: Option<u64>) -> FrameDecoder {
        FrameDecoder {
            state: State::Header,
            max_msg_size,
            max_command_size: None,
        }
    }

    /// Sets the limit for command frames (in addition to `max_msg_size`).
    pub fn set_max_command_size(&mut self, max: Option<u64>) {
        self.max_command_size = max;
    }

    /// How many more bytes the frame being decoded needs (at least 1 when
    /// waiting for a header), given what `buf` already holds. The caller may
    /// reserve room for them, bounded by its own read chunk size.
    pub fn bytes_needed(&self, buf: &[u8]) -> usize {
        match self.state {
            State::Header => match buf.first() {
                None => 2,
                Some(f) if f & FLAG_LONG != 0 => 9usize.saturating_sub(buf.len()),
                Some(_) => 2usize.saturating_sub(buf.len()),
            },
            State::Body { size, .. } => size.saturating_sub(buf.len()),
        }
        .max(1)
    }

    /// The size of the frame whose body is being received (its header has
    /// been consumed), or `None` between frames.
    pub fn body_in_progress(&self) -> Option<usize> {
        match self.state {
            State::Header => None,
            State::Body { size, .. } => Some(size),
        }
    }

    /// Completes the frame whose body is being received with `body`, which
    /// the caller read into a buffer of its own instead of the read buffer
    /// (the header went through [`FrameDecoder::decode`], which returned
    /// `Ok(None)` with part of the body, or none of it, left in its buffer;
    /// those bytes belong at the front of `body` and are the caller's to
    /// move there). The frame is the same as `decode` would have returned
    /// had the whole body been appended to the read buffer.
    ///
    /// If no body is in progress or `body` is not exactly the frame's size,
    /// the result is [`Error::BodyMismatch`] and nothing changes.
    ///
    /// ```
    /// use bytes::{Bytes, BytesMut};
    /// use ringmq::zmtp::{Frame, FrameDecoder};
    ///
    /// let mut dec = FrameDecoder::new(None);
    /// let mut rx = BytesMut::from(&b"\x01\x05he"[..]);
    /// assert_eq!(dec.decode(&mut rx), Ok(None));
    /// assert_eq!(dec.body_in_progress(), Some(5));
    /// let mut body = rx.split().to_vec();
    /// body.extend_from_slice(b"llo");
    /// let Ok(Frame::Message(m)) = dec.finish_body(Bytes::from(body)) else { panic!() };
    /// assert!(m.more() && &m[..] == b"hello");
    /// assert_eq!(dec.body_in_progress(), None);
    /// ```
    pub fn finish_body(&mut self, body: Bytes) -> Result<Frame, Error> {
        let State::Body { flags, size } = self.state else {
            return Err(Error::BodyMismatch {
                expected: None,
                got: body.len(),
            });
        };
        if body.len() != size {
            return Err(Error::BodyMismatch {
                expected: Some(size),
                got: body.len(),
            });
        }
        self.state = State::Header;
        Ok(if flags & FLAG_COMMAND != 0 {
            Frame::Command(body)
        } else {
            Frame::Message(Msg::from(body).with_more(flags & FLAG_MORE != 0))
        })
    }

    fn limit_for(&self, flags: u8) -> u64 {
        let mut max = self.max_msg_size.unwrap_or(MAX_FRAME_BODY);
        if flags & FLAG_COMMAND != 0 {
            if let Some(c) = self.max_command_size {
                max = max.min(c);
            }
        }
        max.min(MAX_FRAME_BODY).min(usize::MAX as u64)
    }

    /// Decodes the next frame from the front of `buf`, consuming its bytes.
    /// `Ok(None)` means more bytes are needed (what is there stays in `buf`).
    /// Reserved flag bits are ignored, as libzmq does.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if let State::Header = self.state {
            let Some(&flags) = buf.first() else {
                return Ok(None);
            };
            if flags & FLAG_COMMAND != 0 && flags & FLAG_MORE != 0 {
                return Err(Error::CommandWithMore);
            }
            let (hdr, size) = if flags & FLAG_LONG != 0 {
                if buf.len() < 9 {
                    return Ok(None);
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[1..9]);
                (9, u64::from_be_bytes(b))
            } else {
                if buf.len() < 2 {
                    return Ok(None);
                }
                (2, u64::from(buf[1]))
            };
            let max = self.limit_for(flags);
            if size > max {
                return Err(Error::FrameTooLarge { size, max });
            }
            buf.advance(hdr);
            self.state = State::Body {
                flags,
                size: size as usize,
            };
        }
        let State::Body { flags, size } = self.state else {
            return Ok(None);
        };
        if buf.len() < size {
            return Ok(None);
        }
        self.state = State::Header;
        if flags & FLAG_COMMAND != 0 {
            Ok(Some(Frame::Command(buf.split_to(size).freeze())))
        } else {
            let Some(msg) = Msg::split_from(buf, size) else {
                return Ok(None);
            };
            Ok(Some(Frame::Message(msg.with_more(flags & FLAG_MORE != 0))))
        }
    }
}

impl FrameDecoder {
    /// Decodes the run of complete short message frames (neither LONG nor
    /// COMMAND) at the front of `buf`, handing each to `sink`, and consumes
    /// their bytes with one advance. Stops at the first frame that is not
    /// one (or is incomplete), which [`FrameDecoder::decode`] then handles.
    /// Returns how many frames were decoded. Gives the same frames as
    /// calling `decode` repeatedly.
    #[inline]
    pub fn decode_short_messages(
        &mut self,
        buf: &mut BytesMut,
        mut sink: impl FnMut(Msg),
    ) -> Result<usize, Error> {
        if !matches!(self.state, State::Header) {
            return Ok(0);
        }
        let max = self.limit_for(0);
        let data = &buf[..];
        let mut pos = 0;
        let mut n = 0;
        while data.len() - pos >= 2 {
            let flags = data[pos];
            if flags & (FLAG_LONG | FLAG_COMMAND) != 0 {
                break;
            }
            let size = usize::from(data[pos + 1]);
            if size as u64 > max {
                buf.advance(pos);
                return Err(Error::FrameTooLarge {
                    size: size as u64,
                    max,
                });
            }
            let end = pos + 2 + size;
            if end > data.len() {
                break;
            }
            let body = pos + 2;
            // With a whole inline window in the buffer, copy it at a fixed
            // size (no variable-length copy call per frame).
            let window = match data.get(body..body + Msg::INLINE_CAP) {
                Some(w) if size <= Msg::INLINE_CAP => <&[u8; Msg::INLINE_CAP]>::try_from(w).ok(),
                _ => None,
            };
            let m = match window {
                Some(w) => Msg::inline_from_window(w, size),
                None => Msg::from_slice(&data[body..end]),
            };
            sink(m.with_more(flags & FLAG_MORE != 0));
            pos = end;
            n += 1;
        }
        buf.advance(pos);
        Ok(n)
    }
}

/// Writes a frame header: LONG iff `len` > 255; reserved bits never set.
#[inline]
pub fn encode_header(dst: &mut BytesMut, more: bool, command: bool, len: usize) {
    let mut flags = 0u8;
    if more {
        flags |= FLAG_MORE;
    }
    if command {
        flags |= FLAG_COMMAND;
    }
    if len > 255 {
        dst.put_u8(flags | FLAG_LONG);
        dst.put_u64(len as u64);
    } else {
        dst.put_u8(flags);
        dst.put_u8(len as u8);
    }
}

/// Writes a whole frame of an inline message: its fixed-size buffer is
/// copied whole (a few fixed-size moves, no copy call) and what lies past
/// the payload is cut off again.
#[inline]
pub(crate) fn encode_inline_frame(
    dst: &mut BytesMut,
    more: bool,
    window: &[u8; Msg::INLINE_CAP],
    len: usize,
) {
    let len = len.min(Msg::INLINE_CAP);
    // Header and window in one fixed-size copy; `len` fits the short form.
    let mut frame = [0u8; 2 + Msg::INLINE_CAP];
    frame[0] = if more { FLAG_MORE } else { 0 };
    frame[1] = len as u8;
    frame[2..].copy_from_slice(window);
    let end = dst.len() + 2 + len;
    dst.extend_from_slice(&frame);
    dst.truncate(end);
}

/// Writes a whole frame (header and body) into `dst`.
pub fn encode_frame(dst: &mut BytesMut, more: bool, command: bool, body: &[u8]) {
    dst.reserve(9 + body.len());
    encode_header(dst, more, command, body.len());
    dst.extend_from_slice(body);
}

/// Splits the first frame off bytes this crate encoded: `(more, command,
/// body, rest)`, or `None` when no whole frame is left. Used to seal frames
/// one by one after they were encoded in the clear.
pub(crate) fn split_encoded(buf: &[u8]) -> Option<(bool, bool, &[u8], &[u8])> {
    let (&flags, after) = buf.split_first()?;
    let (len, after) = if flags & FLAG_LONG != 0 {
        let (len, after) = after.split_first_chunk::<8>()?;
        (usize::try_from(u64::from_be_bytes(*len)).ok()?, after)
    } else {
        let (&len, after) = after.split_first()?;
        (usize::from(len), after)
    };
    if after.len() < len {
        return None;
    }
    let (body, rest) = after.split_at(len);
    Some((
        flags & FLAG_MORE != 0,
        flags & FLAG_COMMAND != 0,
        body,
        rest,
    ))
}
