//! The wire format between workers: one ZeroMQ frame carries a batch.
//!
//! ```text
//! frame    := kind:u8 count:u32le item{count}
//! kind 1   := data: item := 0 tuple | 1 eos
//!   tuple  := dest:varint source:varint stream:varint nvalues:varint value{nvalues}
//!   eos    := from:varint to:varint          (no more tuples from `from` to `to`)
//! kind 2   := backpressure: item := task:varint on:u8(0|1)
//! value    := 0 i64le | 1 f64le | 2 (false) | 3 (true) | 4 len:varint utf8 | 5 len:varint bytes
//! varint   := unsigned LEB128, at most 10 bytes, no overflow
//! ```
//!
//! Decoding is strict: every length is checked against the bytes that remain
//! before anything is allocated, task and stream ids against the topology,
//! and a frame that fails anywhere is rejected whole with a [`DecodeError`]
//! saying where and why. Large strings and byte strings are slices of the
//! received frame (no copy).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::tuple::{Blob, Str, StreamId, TaskId, Tuple, Value, Values};

/// Frame kind: a batch of tuples and end-of-stream markers.
pub const KIND_DATA: u8 = 1;
/// Frame kind: backpressure status of tasks of the sending worker.
pub const KIND_BACKPRESSURE: u8 = 2;

/// The most values a tuple may carry on the wire.
pub const MAX_VALUES: usize = 1024;

const HEADER: usize = 5;

/// One decoded item of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireItem {
    /// A tuple for task `dest`.
    Tuple {
        /// Destination task.
        dest: TaskId,
        /// The tuple.
        tuple: Tuple,
    },
    /// Task `from` will send nothing more to task `to`.
    Eos {
        /// The finished upstream task.
        from: TaskId,
        /// The downstream task told so.
        to: TaskId,
    },
    /// Task `task` of the sender is (or is no longer) under backpressure.
    Backpressure {
        /// The task.
        task: TaskId,
        /// Whether it is congested.
        on: bool,
    },
}

/// What a decoder accepts: ids must be below these bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Number of tasks in the topology.
    pub tasks: u32,
    /// Number of streams in the topology.
    pub streams: u16,
}

/// Bad bytes from a peer: where decoding stopped and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the frame.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed tuple batch from peer at byte {}: {}",
            self.offset, self.reason
        )
    }
}

impl std::error::Error for DecodeError {}

#[inline]
fn put_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Encodes batches into one growing buffer, frame by frame.
///
/// ```
/// use bytes::Bytes;
/// use ringmq::worker::codec::{decode, BatchEncoder, Limits, WireItem};
/// use ringmq::worker::{StreamId, Tuple, Value};
///
/// let mut enc = BatchEncoder::new();
/// let t = Tuple::new(0, StreamId::DEFAULT, [Value::from("hi"), Value::from(2i64)]);
/// enc.push_tuple(1, &t);
/// enc.push_eos(0, 1);
/// let frame: Bytes = enc.finish().unwrap();
/// let mut items = Vec::new();
/// decode(&frame, Limits { tasks: 2, streams: 1 }, &mut items).unwrap();
/// assert_eq!(items[0], WireItem::Tuple { dest: 1, tuple: t });
/// assert_eq!(items[1], WireItem::Eos { from: 0, to: 1 });
/// ```
#[derive(Debug, Default)]
pub struct BatchEncoder {
    buf: BytesMut,
    count: u32,
    kind: u8,
}

impl BatchEncoder {
    /// An empty encoder.
    pub fn new() -> BatchEncoder {
        BatchEncoder::default()
    }

    /// Items in the frame being built.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Bytes in the frame being built.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when no item is buffered.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn start(&mut self, kind: u8) {
        if self.count == 0 {
            self.buf.clear();
            self.buf.reserve(4096);
            self.buf.put_u8(kind);
            self.buf.put_u32_le(0);
            self.kind = kind;
        }
        debug_assert_eq!(self.kind, kind, "one kind per frame");
        self.count += 1;
    }

    /// Appends a tuple for task `dest`.
    pub fn push_tuple(&mut self, dest: TaskId, t: &Tuple) {
        self.start(KIND_DATA);
        let b = &mut self.buf;
        b.put_u8(0);
        put_varint(b, u64::from(dest));
        put_varint(b, u64::from(t.source));
        put_varint(b, u64::from(t.stream.0));
        put_varint(b, t.values.len() as u64);
        for v in &t.values {
            match v {
                Value::I64(x) => {
                    b.put_u8(0);
                    b.put_i64_le(*x);
                }
                Value::F64(x) => {
                    b.put_u8(1);
                    b.put_u64_le(x.to_bits());
                }
                Value::Bool(x) => b.put_u8(if *x { 3 } else { 2 }),
                Value::Str(s) => {
                    b.put_u8(4);
                    put_varint(b, s.len() as u64);
                    b.put_slice(s.as_bytes());
                }
                Value::Bytes(x) => {
                    b.put_u8(5);
                    put_varint(b, x.len() as u64);
                    b.put_slice(x.as_bytes());
                }
            }
        }
    }

    /// Appends an end-of-stream marker from task `from` to task `to`.
    pub fn push_eos(&mut self, from: TaskId, to: TaskId) {
        self.start(KIND_DATA);
        self.buf.put_u8(1);
        put_varint(&mut self.buf, u64::from(from));
        put_varint(&mut self.buf, u64::from(to));
    }

    /// Appends a backpressure status (a frame holds only these).
    pub fn push_backpressure(&mut self, task: TaskId, on: bool) {
        self.start(KIND_BACKPRESSURE);
        put_varint(&mut self.buf, u64::from(task));
        self.buf.put_u8(u8::from(on));
    }

    /// Takes the finished frame (`None` if empty); the encoder is reset.
    pub fn finish(&mut self) -> Option<Bytes> {
        if self.count == 0 {
            return None;
        }
        self.buf[1..HEADER].copy_from_slice(&self.count.to_le_bytes());
        self.count = 0;
        Some(self.buf.split().freeze())
    }
}

struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            reason,
        }
    }

    fn remaining(&self) -> usize {
        self.frame.len() - self.pos
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .frame
            .get(self.pos)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn fixed8(&mut self) -> Result<[u8; 8], DecodeError> {
        let s = self
            .frame
            .get(self.pos..self.pos + 8)
            .ok_or_else(|| self.err("truncated 8-byte value"))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        self.pos += 8;
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            let part = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= part << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn task(&mut self, limits: Limits) -> Result<TaskId, DecodeError> {
        let v = self.varint()?;
        if v >= u64::from(limits.tasks) {
            return Err(self.err("task id out of range for this topology"));
        }
        Ok(v as TaskId)
    }

    /// A length-prefixed range, checked against the remaining bytes first.
    fn range(&mut self) -> Result<std::ops::Range<usize>, DecodeError> {
        let len = self.varint()?;
        if len > self.remaining() as u64 {
            return Err(self.err("length exceeds the frame"));
        }
        let r = self.pos..self.pos + len as usize;
        self.pos = r.end;
        Ok(r)
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        Ok(match self.u8()? {
            0 => Value::I64(i64::from_le_bytes(self.fixed8()?)),
            1 => Value::F64(f64::from_bits(u64::from_le_bytes(self.fixed8()?))),
            2 => Value::Bool(false),
            3 => Value::Bool(true),
            4 => {
                let at = self.pos;
                let r = self.range()?;
                // Short strings are copied inline straight from the frame;
                // long ones share it (no reference count touched for the
                // short ones).
                let s = if r.len() <= Str::INLINE_CAP {
                    Str::from_utf8(&self.frame[r])
                } else {
                    Str::from_shared(self.frame.slice(r))
                };
                Value::Str(s.ok_or(DecodeError {
                    offset: at,
                    reason: "string is not UTF-8",
                })?)
            }
            5 => {
                let r = self.range()?;
                Value::Bytes(if r.len() <= Str::INLINE_CAP {
                    Blob::from(&self.frame[r])
                } else {
                    Blob::from(self.frame.slice(r))
                })
            }
            _ => {
                self.pos -= 1;
                return Err(self.err("unknown value tag"));
            }
        })
    }

    fn item(&mut self, kind: u8, limits: Limits) -> Result<WireItem, DecodeError> {
        if kind == KIND_BACKPRESSURE {
            let task = self.task(limits)?;
            let on = match self.u8()? {
                0 => false,
                1 => true,
                _ => return Err(self.err("backpressure flag is not 0 or 1")),
            };
            return Ok(WireItem::Backpressure { task, on });
        }
        match self.u8()? {
            0 => {
                let dest = self.task(limits)?;
                let source = self.task(limits)?;
                let stream = self.varint()?;
                if stream >= u64::from(limits.streams) {
                    return Err(self.err("stream id out of range for this topology"));
                }
                let n = self.varint()?;
                // Every value takes at least one byte: bound the count by the
                // input before reserving anything.
                if n > MAX_VALUES as u64 || n > self.remaining() as u64 {
                    return Err(self.err("value count exceeds the limit or the frame"));
                }
                let mut values = Values::with_capacity(n as usize);
                for _ in 0..n {
                    values.push(self.value()?);
                }
                Ok(WireItem::Tuple {
                    dest,
                    tuple: Tuple {
                        values,
                        stream: StreamId(stream as u16),
                        source,
                    },
                })
            }
            1 => {
                let from = self.task(limits)?;
                let to = self.task(limits)?;
                Ok(WireItem::Eos { from, to })
            }
            _ => {
                self.pos -= 1;
                Err(self.err("unknown item tag"))
            }
        }
    }
}

/// Decodes one frame, appending its items to `out`; returns the frame kind.
/// On error `out` is left as it was (a frame is applied whole or not at
/// all).
pub fn decode(frame: &Bytes, limits: Limits, out: &mut Vec<WireItem>) -> Result<u8, DecodeError> {
    let start = out.len();
    let r = decode_each(frame, limits, |item| out.push(item));
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// Decodes one frame, handing each item to `sink` as soon as it is
/// decoded; returns the frame kind. On error some items may already have
/// been handed over: the caller undoes them (see the receive thread).
pub(crate) fn decode_each(
    frame: &Bytes,
    limits: Limits,
    mut sink: impl FnMut(WireItem),
) -> Result<u8, DecodeError> {
    let mut r = Reader { frame, pos: 0 };
    let kind = r.u8()?;
    if kind != KIND_DATA && kind != KIND_BACKPRESSURE {
        r.pos = 0;
        return Err(r.err("unknown frame kind"));
    }
    let count = frame_count(frame).ok_or_else(|| r.err("truncated header"))?;
    r.pos = HEADER;
    // Every item takes at least two bytes: a count beyond that is a lie,
    // caught before anything is decoded.
    if count > r.remaining() / 2 {
        return Err(r.err("item count exceeds the frame"));
    }
    for _ in 0..count {
        sink(r.item(kind, limits)?);
    }
    if r.remaining() != 0 {
        return Err(r.err("trailing bytes after the last item"));
    }
    Ok(kind)
}

/// The item count in a frame's header, if the header is complete.
pub(crate) fn frame_count(frame: &[u8]) -> Option<usize> {
    let c: [u8; 4] = frame.get(1..HEADER)?.try_into().ok()?;
    Some(u32::from_le_bytes(c) as usize)
}
