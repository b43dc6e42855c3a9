//! [`Tuple`] and [`Value`]: the data that flows between tasks.
//!
//! Small values live inline: integers, floats, booleans, and strings or byte
//! strings up to [`Str::INLINE_CAP`] bytes never touch the allocator, and a
//! tuple keeps up to three values without a heap allocation. A value is 24
//! bytes and a tuple 88, so tuples move between rings without `memcpy`
//! calls. Larger strings and byte strings are a boxed reference-counted
//! [`Bytes`]: decoding one from the network slices the received frame
//! instead of copying it.

use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::Bytes;
use smallvec::SmallVec;

/// A task id: dense, starting at 0, unique in a topology.
pub type TaskId = u32;

/// The values of a tuple: up to three stay inline.
pub type Values = SmallVec<[Value; 3]>;

/// A stream id, interned by the topology (see
/// [`Topology::stream_id`](super::Topology::stream_id)). Stream 0 is
/// `"default"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StreamId(pub(crate) u16);

impl StreamId {
    /// The `"default"` stream.
    pub const DEFAULT: StreamId = StreamId(0);

    /// The numeric id (an index into the topology's stream table).
    pub fn index(self) -> u16 {
        self.0
    }

    /// The stream with this index in the topology's stream table (use
    /// [`Topology::stream_id`](super::Topology::stream_id) to look one up by
    /// name).
    pub fn from_index(i: u16) -> StreamId {
        StreamId(i)
    }
}

/// A UTF-8 string value: inline up to [`Str::INLINE_CAP`] bytes, otherwise a
/// shared [`Bytes`] known to hold UTF-8.
///
/// ```
/// use ringmq::worker::Str;
/// let s = Str::from("hello");
/// assert_eq!(s.as_str(), "hello");
/// assert!(s.is_inline());
/// assert!(!Str::from("x".repeat(100).as_str()).is_inline());
/// ```
#[derive(Clone)]
pub struct Str(Small);

/// Inline up to 22 bytes, else a boxed shared buffer: 24 bytes in all, so
/// a [`Value`] is 24 bytes and a three-value [`Tuple`] moves without a
/// `memcpy` call.
#[derive(Clone)]
enum Small {
    Inline { len: u8, buf: [u8; Str::INLINE_CAP] },
    Shared(Box<Bytes>),
}

impl Small {
    #[inline]
    fn copy(b: &[u8]) -> Small {
        if b.len() <= Str::INLINE_CAP {
            let mut buf = [0u8; Str::INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            Small::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Small::Shared(Box::new(Bytes::copy_from_slice(b)))
        }
    }

    #[inline]
    fn shared(b: Bytes) -> Small {
        if b.len() <= Str::INLINE_CAP {
            Small::copy(&b)
        } else {
            Small::Shared(Box::new(b))
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            Small::Inline { len, buf } => &buf[..*len as usize],
            Small::Shared(b) => b,
        }
    }
}

impl Str {
    /// The longest string stored inline.
    pub const INLINE_CAP: usize = 22;

    /// A string from bytes already checked to be UTF-8.
    #[inline]
    fn from_utf8_bytes(b: &[u8]) -> Str {
        Str(Small::copy(b))
    }

    /// A string copied from `b` (inline if short), or `None` if `b` is not
    /// UTF-8.
    #[inline]
    pub fn from_utf8(b: &[u8]) -> Option<Str> {
        std::str::from_utf8(b).ok()?;
        Some(Str(Small::copy(b)))
    }

    /// A string viewing `b` (inline if short, else sharing the buffer), or
    /// `None` if `b` is not UTF-8.
    pub fn from_shared(b: Bytes) -> Option<Str> {
        std::str::from_utf8(&b).ok()?;
        Some(Str(Small::shared(b)))
    }

    /// The UTF-8 bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The string. (Every constructor checks UTF-8, so this never fails;
    /// it re-validates because the module forbids `unsafe`.)
    #[inline]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the string is stored inline (no allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Small::Inline { .. })
    }
}

impl From<&str> for Str {
    #[inline]
    fn from(s: &str) -> Str {
        Str::from_utf8_bytes(s.as_bytes())
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str(Small::shared(Bytes::from(s)))
    }
}

impl PartialEq for Str {
    fn eq(&self, o: &Str) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl Eq for Str {}

impl Hash for Str {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A byte-string value: inline up to [`Str::INLINE_CAP`] bytes, otherwise
/// a shared [`Bytes`] (decoded ones are slices of the received frame).
///
/// ```
/// use ringmq::worker::Blob;
/// let b = Blob::from(&b"abc"[..]);
/// assert_eq!(b.as_bytes(), b"abc");
/// ```
#[derive(Clone)]
pub struct Blob(Small);

impl Blob {
    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the bytes are stored inline (no allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Small::Inline { .. })
    }
}

impl From<&[u8]> for Blob {
    #[inline]
    fn from(b: &[u8]) -> Blob {
        Blob(Small::copy(b))
    }
}

impl From<Bytes> for Blob {
    fn from(b: Bytes) -> Blob {
        Blob(Small::shared(b))
    }
}

impl From<Vec<u8>> for Blob {
    fn from(b: Vec<u8>) -> Blob {
        Blob(Small::shared(Bytes::from(b)))
    }
}

impl PartialEq for Blob {
    fn eq(&self, o: &Blob) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl Eq for Blob {}

impl Hash for Blob {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h)
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.len())
    }
}

/// One field of a tuple (24 bytes).
///
/// ```
/// use ringmq::worker::Value;
/// let v: Vec<Value> = vec![7i64.into(), 0.5f64.into(), true.into(), "word".into()];
/// assert_eq!(v[0].as_i64(), Some(7));
/// assert_eq!(v[3].as_str(), Some("word"));
/// ```
#[derive(Clone, Debug)]
pub enum Value {
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float (compared and hashed by its bits).
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(Str),
    /// A byte string.
    Bytes(Blob),
}

impl Value {
    /// The integer, if this is an `I64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The float, if this is an `F64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F64(v) => Some(*v),
            _ => None,
        }
    }

    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// The string, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The bytes, if this is a `Bytes`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b.as_bytes()),
            _ => None,
        }
    }

    /// Feeds a canonical, process-independent encoding of the value to a
    /// 64-bit FNV-1a hash (used by the fields grouping, which must pick the
    /// same task in every worker process).
    pub(crate) fn fnv(&self, mut h: u64) -> u64 {
        fn eat(h: &mut u64, bytes: &[u8]) {
            for &b in bytes {
                *h ^= u64::from(b);
                *h = h.wrapping_mul(0x0000_0100_0000_01B3);
            }
        }
        match self {
            Value::I64(v) => {
                eat(&mut h, &[0]);
                eat(&mut h, &v.to_le_bytes());
            }
            Value::F64(v) => {
                eat(&mut h, &[1]);
                eat(&mut h, &v.to_bits().to_le_bytes());
            }
            Value::Bool(v) => eat(&mut h, &[2, u8::from(*v)]),
            Value::Str(s) => {
                eat(&mut h, &[3]);
                eat(&mut h, s.as_bytes());
                eat(&mut h, &[0xff]);
            }
            Value::Bytes(b) => {
                eat(&mut h, &[4]);
                eat(&mut h, b.as_bytes());
                eat(&mut h, &[0xff]);
            }
        }
        h
    }
}

impl PartialEq for Value {
    fn eq(&self, o: &Value) -> bool {
        match (self, o) {
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl From<i64> for Value {
    #[inline]
    fn from(v: i64) -> Value {
        Value::I64(v)
    }
}

impl From<f64> for Value {
    #[inline]
    fn from(v: f64) -> Value {
        Value::F64(v)
    }
}

impl From<bool> for Value {
    #[inline]
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    #[inline]
    fn from(v: &str) -> Value {
        Value::Str(Str::from(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Str(Str::from(v))
    }
}

impl From<Str> for Value {
    fn from(v: Str) -> Value {
        Value::Str(v)
    }
}

impl From<Bytes> for Value {
    fn from(v: Bytes) -> Value {
        Value::Bytes(Blob::from(v))
    }
}

impl From<&[u8]> for Value {
    #[inline]
    fn from(v: &[u8]) -> Value {
        Value::Bytes(Blob::from(v))
    }
}

impl From<Blob> for Value {
    fn from(v: Blob) -> Value {
        Value::Bytes(v)
    }
}

/// A tuple: a list of values, the stream it was emitted on and the task
/// that emitted it.
///
/// ```
/// use ringmq::worker::{StreamId, Tuple, Value};
/// let t = Tuple::new(3, StreamId::DEFAULT, [Value::from("w"), Value::from(1i64)]);
/// assert_eq!(t.source_task(), 3);
/// assert_eq!(t.len(), 2);
/// assert_eq!(t.get(0).and_then(Value::as_str), Some("w"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuple {
    pub(crate) values: Values,
    pub(crate) stream: StreamId,
    pub(crate) source: TaskId,
}

impl Tuple {
    /// A tuple from `source` on `stream` with `values`.
    #[inline]
    pub fn new(source: TaskId, stream: StreamId, values: impl IntoIterator<Item = Value>) -> Tuple {
        Tuple {
            values: values.into_iter().collect(),
            stream,
            source,
        }
    }

    /// The values.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The value at `i`.
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.values.get(i)
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if the tuple has no value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The stream it was emitted on.
    pub fn stream(&self) -> StreamId {
        self.stream
    }

    /// The task that emitted it.
    pub fn source_task(&self) -> TaskId {
        self.source
    }

    /// Takes the values out (leaving the tuple empty).
    pub fn take_values(&mut self) -> Values {
        std::mem::take(&mut self.values)
    }
}
