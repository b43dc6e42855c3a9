//! `Msg`, one ZeroMQ frame, and [`Multipart`], the frames of one message.
//!
//! This module owns the in-memory representation of a frame. Payloads up to
//! [`Msg::INLINE_CAP`] bytes are stored inline (no allocation, no reference
//! count); larger payloads are a [`bytes::Bytes`], so a frame sliced out of
//! the decoder's read buffer reaches the user without a copy.
//!
//! It also owns the pool that recycles large receive buffers
//! (`pool`): a frame's body is read into a pooled buffer that becomes the
//! message's `Bytes`, and the buffer returns to the pool, through a ring,
//! when the message is dropped.
//!
//! It must not do I/O, know about the wire format, or touch atomics other
//! than through `Bytes` and the pool (its rings and its count of idle
//! bytes). It contains no `unsafe` code.

#![forbid(unsafe_code)]

pub(crate) mod pool;

use std::fmt;
use std::ops::Deref;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

/// Defines [`Head`] from the list of its variants, and [`HEADS`], the same
/// variants in order of value, which makes a `Head` from its value without
/// `unsafe`.
macro_rules! heads {
    ($(#[$doc:meta])* $($name:ident = $value:literal,)*) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        #[repr(u64)]
        enum Head {
            $($name = $value,)*
        }

        /// Every [`Head`] in order of value.
        const HEADS: [Head; 2 * Msg::INLINE_CAP + 2] = [$(Head::$name,)*];
    };
}

#[rustfmt::skip]
heads! {
    /// The last word of an inline frame: its length and MORE flag in one
    /// 8-byte value, `len * 2 + more` (0 to 129).
    ///
    /// Being an enum, it leaves every other value of the word spare, and the
    /// [`Repr`] variants for shared payloads take two of them: a `Msg`, an
    /// `Option<Msg>` and a pipe's payload all fit in 72 bytes, with no tag of
    /// their own, and a shared payload is a bare `Bytes` in the first 32.
    ///
    /// The layout is chosen for the moves a message makes on its way through
    /// a socket. The compiler copies 72 bytes as four 16-byte pieces from the
    /// start and one 8-byte piece at the end; with the frame's metadata in
    /// that one last word, and nothing else in the layout that ends between
    /// 32 and 72, every move writes and reads the same pieces. A move that
    /// reads back in one wide load what an earlier move wrote in narrower
    /// pieces cannot take the data from the pending stores: it waits for them
    /// to reach the cache, and behind them for the previous message's writes
    /// to the ring, whose cache lines the other core holds. With a length byte
    /// and a flag byte that were bytes of their own (and the flag of a shared
    /// payload at offset 32), that wait came on every message: inproc 64 B
    /// PUSH/PULL ran 22 M msg/s against 29 M/s with this layout, TCP 64 B
    /// 8.2 against 10.7 (medians of alternating runs).
    H0 = 0, H1 = 1, H2 = 2, H3 = 3, H4 = 4, H5 = 5, H6 = 6, H7 = 7, H8 = 8, H9 = 9,
    H10 = 10, H11 = 11, H12 = 12, H13 = 13, H14 = 14, H15 = 15, H16 = 16, H17 = 17, H18 = 18, H19 = 19,
    H20 = 20, H21 = 21, H22 = 22, H23 = 23, H24 = 24, H25 = 25, H26 = 26, H27 = 27, H28 = 28, H29 = 29,
    H30 = 30, H31 = 31, H32 = 32, H33 = 33, H34 = 34, H35 = 35, H36 = 36, H37 = 37, H38 = 38, H39 = 39,
    H40 = 40, H41 = 41, H42 = 42, H43 = 43, H44 = 44, H45 = 45, H46 = 46, H47 = 47, H48 = 48, H49 = 49,
    H50 = 50, H51 = 51, H52 = 52, H53 = 53, H54 = 54, H55 = 55, H56 = 56, H57 = 57, H58 = 58, H59 = 59,
    H60 = 60, H61 = 61, H62 = 62, H63 = 63, H64 = 64, H65 = 65, H66 = 66, H67 = 67, H68 = 68, H69 = 69,
    H70 = 70, H71 = 71, H72 = 72, H73 = 73, H74 = 74, H75 = 75, H76 = 76, H77 = 77, H78 = 78, H79 = 79,
    H80 = 80, H81 = 81, H82 = 82, H83 = 83, H84 = 84, H85 = 85, H86 = 86, H87 = 87, H88 = 88, H89 = 89,
    H90 = 90, H91 = 91, H92 = 92, H93 = 93, H94 = 94, H95 = 95, H96 = 96, H97 = 97, H98 = 98, H99 = 99,
    H100 = 100, H101 = 101, H102 = 102, H103 = 103, H104 = 104, H105 = 105, H106 = 106, H107 = 107, H108 = 108, H109 = 109,
    H110 = 110, H111 = 111, H112 = 112, H113 = 113, H114 = 114, H115 = 115, H116 = 116, H117 = 117, H118 = 118, H119 = 119,
    H120 = 120, H121 = 121, H122 = 122, H123 = 123, H124 = 124, H125 = 125, H126 = 126, H127 = 127, H128 = 128, H129 = 129,
}

impl Head {
    /// The head of an inline payload of `len` bytes (at most
    /// [`Msg::INLINE_CAP`]).
    #[inline(always)]
    fn of(len: usize, more: bool) -> Head {
        debug_assert!(len <= Msg::INLINE_CAP);
        HEADS[len.min(Msg::INLINE_CAP) * 2 + more as usize]
    }

    #[inline(always)]
    fn len(self) -> usize {
        self as u64 as usize >> 1
    }

    #[inline(always)]
    fn more(self) -> bool {
        self as u64 & 1 == 1
    }
}

/// A small payload kept inside the `Msg`: one plain `Copy` block.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Inline {
    buf: [u8; Msg::INLINE_CAP],
    head: Head,
}

impl Inline {
    /// The first `len` bytes of `buf`, without the MORE flag.
    #[inline]
    const fn new(buf: [u8; Msg::INLINE_CAP], head: Head) -> Inline {
        Inline { head, buf }
    }
}

/// A frame's payload and MORE flag: the MORE flag of a shared payload is
/// told by its variant, that of an inline one by its [`Head`].
#[derive(Clone)]
enum Repr {
    Inline(Inline),
    Shared(Bytes),
    SharedMore(Bytes),
}

/// One frame of a ZeroMQ message: a payload and a MORE flag.
///
/// Small payloads (≤ [`Msg::INLINE_CAP`] bytes) live inside the `Msg`; large
/// ones are a reference-counted [`Bytes`], so cloning a large `Msg` and
/// handing it between threads never copies the payload.
///
/// ```
/// use ringmq::msg::Msg;
///
/// let m = Msg::from("hello").with_more(true);
/// assert_eq!(&m[..], b"hello");
/// assert!(m.more());
/// assert!(m.is_inline());
///
/// let big = Msg::from(vec![7u8; 1000]);
/// assert_eq!(big.len(), 1000);
/// assert!(!big.is_inline());
/// assert_eq!(big.into_bytes().len(), 1000);
/// ```
#[derive(Clone)]
pub struct Msg {
    repr: Repr,
}

impl Msg {
    /// A frame holding `bytes` as they are, without the MORE flag.
    #[inline]
    fn shared_frame(bytes: Bytes) -> Msg {
        Msg {
            repr: Repr::Shared(bytes),
        }
    }

    /// The largest payload stored inline, without allocating.
    pub const INLINE_CAP: usize = 64;

    /// An empty frame without the MORE flag.
    #[inline]
    pub const fn new() -> Msg {
        Msg {
            repr: Repr::Inline(Inline::new([0; Msg::INLINE_CAP], Head::H0)),
        }
    }

    #[inline]
    fn inline(data: &[u8]) -> Msg {
        debug_assert!(data.len() <= Self::INLINE_CAP);
        let mut buf = [0u8; Self::INLINE_CAP];
        buf[..data.len()].copy_from_slice(data);
        Msg {
            repr: Repr::Inline(Inline::new(buf, Head::of(data.len(), false))),
        }
    }

    /// An inline frame of the first `len` bytes of `window` (at most
    /// [`Msg::INLINE_CAP`]), copying the whole fixed-size window: a decoder
    /// that has that many bytes in its buffer anyway makes a frame with a
    /// few fixed-size moves instead of a variable-length copy. Bytes of the
    /// window past `len` are kept but never shown.
    #[inline]
    pub(crate) fn inline_from_window(window: &[u8; Msg::INLINE_CAP], len: usize) -> Msg {
        debug_assert!(len <= Self::INLINE_CAP);
        Msg {
            repr: Repr::Inline(Inline::new(*window, Head::of(len, false))),
        }
    }

    /// An inline frame's whole buffer (its payload is the first
    /// [`len`](Self::len) bytes), `None` for a shared one. Encoders copy the
    /// fixed-size buffer and then drop what is past the payload.
    #[inline]
    pub(crate) fn inline_window(&self) -> Option<&[u8; Msg::INLINE_CAP]> {
        match &self.repr {
            Repr::Inline(i) => Some(&i.buf),
            Repr::Shared(_) | Repr::SharedMore(_) => None,
        }
    }

    /// Copies `data` into a new frame (inline when it fits).
    #[inline]
    pub fn from_slice(data: &[u8]) -> Msg {
        if data.len() <= Self::INLINE_CAP {
            Msg::inline(data)
        } else {
            Msg::shared_frame(Bytes::copy_from_slice(data))
        }
    }

    /// A frame viewing `bytes`: small payloads are copied inline (so the
    /// frame holds no reference count), large ones share the buffer.
    #[inline]
    pub fn from_shared(bytes: &Bytes) -> Msg {
        if bytes.len() <= Self::INLINE_CAP {
            Msg::inline(bytes)
        } else {
            Msg::shared_frame(bytes.clone())
        }
    }

    /// Takes the first `len` bytes of `buf` as a new frame. Small payloads
    /// are copied inline; large ones are split off without copying
    /// (`split_to(len).freeze()`).
    ///
    /// Returns `None` (and leaves `buf` untouched) when `buf` holds fewer
    /// than `len` bytes.
    #[inline]
    pub fn split_from(buf: &mut BytesMut, len: usize) -> Option<Msg> {
        if buf.len() < len {
            return None;
        }
        if len <= Self::INLINE_CAP {
            let m = Msg::inline(&buf[..len]);
            bytes::Buf::advance(buf, len);
            Some(m)
        } else {
            Some(Msg::shared_frame(buf.split_to(len).freeze()))
        }
    }

    /// Whether another frame of the same message follows this one.
    #[inline]
    pub fn more(&self) -> bool {
        match &self.repr {
            Repr::Inline(i) => i.head.more(),
            Repr::Shared(_) => false,
            Repr::SharedMore(_) => true,
        }
    }

    /// Sets or clears the MORE flag.
    #[inline]
    pub fn set_more(&mut self, more: bool) {
        match &mut self.repr {
            Repr::Inline(i) => i.head = Head::of(i.head.len(), more),
            Repr::Shared(_) if !more => {}
            Repr::SharedMore(_) if more => {}
            Repr::Shared(b) | Repr::SharedMore(b) => {
                let b = std::mem::take(b);
                self.repr = if more {
                    Repr::SharedMore(b)
                } else {
                    Repr::Shared(b)
                };
            }
        }
    }

    /// Returns the frame with the MORE flag set to `more`.
    #[inline]
    #[must_use]
    pub fn with_more(mut self, more: bool) -> Msg {
        self.set_more(more);
        self
    }

    /// The payload length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Inline(i) => i.head.len(),
            Repr::Shared(b) | Repr::SharedMore(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline(i) => &i.buf[..i.head.len()],
            Repr::Shared(b) | Repr::SharedMore(b) => b,
        }
    }

    /// Whether the payload is stored inline (no allocation).
    #[inline]
    pub fn is_inline(&self) -> bool {
        matches!(self.repr, Repr::Inline(_))
    }

    /// The shared buffer behind a large payload, `None` for an inline one.
    /// Encoders use it to write large payloads without copying.
    #[inline]
    pub fn shared(&self) -> Option<&Bytes> {
        match &self.repr {
            Repr::Inline(_) => None,
            Repr::Shared(b) | Repr::SharedMore(b) => Some(b),
        }
    }

    /// The payload as `Bytes` (copies an inline payload, moves a shared one).
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        match self.repr {
            Repr::Inline(i) => Bytes::copy_from_slice(&i.buf[..i.head.len()]),
            Repr::Shared(b) | Repr::SharedMore(b) => b,
        }
    }
}

impl Default for Msg {
    fn default() -> Self {
        Msg::new()
    }
}

impl Deref for Msg {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Msg {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Msg {
    fn eq(&self, other: &Msg) -> bool {
        self.more() == other.more() && self.as_slice() == other.as_slice()
    }
}

impl Eq for Msg {}

impl fmt::Debug for Msg {
    /// Shows the length, the MORE flag and at most the first 32 payload
    /// bytes, escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 32;
        let data = self.as_slice();
        let head = &data[..data.len().min(SHOWN)];
        let mut shown = String::with_capacity(head.len() + 2);
        for &b in head {
            shown.extend(std::ascii::escape_default(b).map(char::from));
        }
        if data.len() > SHOWN {
            shown.push_str("..");
        }
        f.debug_struct("Msg")
            .field("len", &data.len())
            .field("more", &self.more())
            .field("data", &format_args!("b\"{shown}\""))
            .finish()
    }
}

impl From<&[u8]> for Msg {
    #[inline]
    fn from(data: &[u8]) -> Msg {
        Msg::from_slice(data)
    }
}

impl<const N: usize> From<&[u8; N]> for Msg {
    #[inline]
    fn from(data: &[u8; N]) -> Msg {
        Msg::from_slice(data)
    }
}

impl From<&str> for Msg {
    #[inline]
    fn from(data: &str) -> Msg {
        Msg::from_slice(data.as_bytes())
    }
}

impl From<Vec<u8>> for Msg {
    /// Small vectors are copied inline; large ones become `Bytes` without a
    /// copy.
    #[inline]
    fn from(data: Vec<u8>) -> Msg {
        if data.len() <= Msg::INLINE_CAP {
            Msg::inline(&data)
        } else {
            Msg::shared_frame(Bytes::from(data))
        }
    }
}

impl From<String> for Msg {
    #[inline]
    fn from(data: String) -> Msg {
        Msg::from(data.into_bytes())
    }
}

impl From<Bytes> for Msg {
    /// Small payloads are copied inline (dropping the reference); large ones
    /// keep the buffer.
    #[inline]
    fn from(data: Bytes) -> Msg {
        if data.len() <= Msg::INLINE_CAP {
            Msg::inline(&data)
        } else {
            Msg::shared_frame(data)
        }
    }
}

impl From<Msg> for Bytes {
    #[inline]
    fn from(m: Msg) -> Bytes {
        m.into_bytes()
    }
}

/// The frames of one message, in order. Up to four frames are stored without
/// a heap allocation.
///
/// [`Multipart::push`] and the conversions keep the MORE flags consistent:
/// set on every frame but the last.
///
/// ```
/// use ringmq::msg::{Msg, Multipart};
///
/// let mp: Multipart = ["id", "", "payload"].into_iter().collect();
/// assert_eq!(mp.len(), 3);
/// assert!(mp[0].more() && mp[1].more() && !mp[2].more());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Multipart(SmallVec<[Msg; 4]>);

impl Multipart {
    /// An empty message.
    pub fn new() -> Multipart {
        Multipart(SmallVec::new())
    }

    /// Appends a frame, setting MORE on the previous last frame and clearing
    /// it on the new one.
    pub fn push(&mut self, msg: impl Into<Msg>) {
        if let Some(last) = self.0.last_mut() {
            last.set_more(true);
        }
        self.0.push(msg.into().with_more(false));
    }

    /// Removes and returns the first frame, if any.
    pub fn pop_front(&mut self) -> Option<Msg> {
        if self.0.is_empty() {
            None
        } else {
            Some(self.0.remove(0))
        }
    }

    /// Sets MORE on every frame but the last, and clears it on the last.
    pub fn fix_more_flags(&mut self) {
        let n = self.0.len();
        for (i, m) in self.0.iter_mut().enumerate() {
            m.set_more(i + 1 < n);
        }
    }

    /// The total payload size of all frames.
    pub fn total_len(&self) -> usize {
        self.0.iter().map(Msg::len).sum()
    }

    /// The frames as a `Vec`.
    pub fn into_vec(self) -> Vec<Msg> {
        self.0.into_vec()
    }
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl Deref for Multipart {
    type Target = [Msg];
    fn deref(&self) -> &[Msg] {
        &self.0
    }
}

impl std::ops::DerefMut for Multipart {
    fn deref_mut(&mut self) -> &mut [Msg] {
        &mut self.0
    }
}

impl From<Vec<Msg>> for Multipart {
    /// Takes the frames in order and makes the MORE flags consistent.
    fn from(v: Vec<Msg>) -> Multipart {
        let mut mp = Multipart(SmallVec::from_vec(v));
        mp.fix_more_flags();
        mp
    }
}

impl From<Multipart> for Vec<Msg> {
    fn from(mp: Multipart) -> Vec<Msg> {
        mp.into_vec()
    }
}

impl<M: Into<Msg>> FromIterator<M> for Multipart {
    fn from_iter<I: IntoIterator<Item = M>>(iter: I) -> Multipart {
        let mut mp = Multipart(iter.into_iter().map(Into::into).collect());
        mp.fix_more_flags();
        mp
    }
}

impl<M: Into<Msg>> Extend<M> for Multipart {
    fn extend<I: IntoIterator<Item = M>>(&mut self, iter: I) {
        for m in iter {
            self.push(m);
        }
    }
}

impl IntoIterator for Multipart {
    type Item = Msg;
    type IntoIter = smallvec::IntoIter<[Msg; 4]>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Multipart {
    type Item = &'a Msg;
    type IntoIter = std::slice::Iter<'a, Msg>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_bounded() {
        use std::mem::size_of;
        assert!(size_of::<Msg>() <= 72, "{}", size_of::<Msg>());
        // The variants' tag sits in a spare value of an inline frame's
        // head, so wrapping a frame costs no space.
        assert_eq!(size_of::<Option<Msg>>(), size_of::<Msg>());
    }

    #[test]
    fn heads_cover_every_length_and_flag() {
        for (i, h) in HEADS.iter().enumerate() {
            assert_eq!(*h as u64, i as u64);
        }
        for len in 0..=Msg::INLINE_CAP {
            for more in [false, true] {
                let h = Head::of(len, more);
                assert_eq!((h.len(), h.more()), (len, more));
            }
        }
    }

    #[test]
    fn more_flag_and_payload_survive_every_change() {
        for len in [0, 1, 31, 63, 64, 65, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let m = Msg::from(&data[..]);
            assert_eq!(m.is_inline(), len <= Msg::INLINE_CAP);
            assert!(!m.more());
            for more in [true, true, false, true, false, false] {
                let m2 = m.clone().with_more(more);
                assert_eq!(m2.more(), more, "len {len}");
                assert_eq!(m2.len(), len);
                assert_eq!(&m2[..], &data[..]);
                assert_eq!(m2.shared().is_some(), len > Msg::INLINE_CAP);
                let mut m3 = m2.clone();
                m3.set_more(!more);
                assert_eq!((m3.more(), m2.more()), (!more, more));
                assert_eq!(m3.as_slice(), m2.as_slice());
                assert_eq!(Some(m2.clone()).map(|m| m.more()), Some(more));
            }
            assert_eq!(m.clone().with_more(true).into_bytes(), &data[..]);
        }
    }

    #[test]
    fn inline_threshold() {
        let at = Msg::from(vec![1u8; Msg::INLINE_CAP]);
        assert!(at.is_inline());
        assert_eq!(at.len(), 64);
        let over = Msg::from(vec![1u8; Msg::INLINE_CAP + 1]);
        assert!(!over.is_inline());
        assert_eq!(over.len(), 65);
        assert!(Msg::from(Bytes::from_static(&[3; 10])).is_inline());
        assert!(!Msg::from_shared(&Bytes::from(vec![3; 100])).is_inline());
    }

    #[test]
    fn conversions_agree() {
        let a = Msg::from("abc");
        assert_eq!(a, Msg::from(&b"abc"[..]));
        assert_eq!(a, Msg::from(b"abc"));
        assert_eq!(a, Msg::from(String::from("abc")));
        assert_eq!(a, Msg::from(vec![b'a', b'b', b'c']));
        assert_eq!(a, Msg::from(Bytes::from_static(b"abc")));
        assert_ne!(a, a.clone().with_more(true));
        assert_eq!(a.clone().into_bytes(), Bytes::from_static(b"abc"));
        assert_eq!(Msg::default().len(), 0);
        assert!(Msg::new().is_empty());
    }

    #[test]
    fn split_from_is_zero_copy_for_large() {
        let mut buf = BytesMut::from(&vec![9u8; 300][..]);
        let base = buf.as_ptr();
        let small = Msg::split_from(&mut buf, 10).unwrap();
        assert!(small.is_inline());
        let big = Msg::split_from(&mut buf, 200).unwrap();
        assert_eq!(big.as_ptr(), base.wrapping_add(10));
        assert_eq!(buf.len(), 90);
        assert!(Msg::split_from(&mut buf, 91).is_none());
        assert_eq!(buf.len(), 90);
    }

    #[test]
    fn debug_is_abbreviated() {
        let s = format!("{:?}", Msg::from(vec![b'x'; 1000]));
        assert!(s.len() < 120, "{s}");
        assert!(s.contains("len: 1000"));
        assert!(s.contains(".."));
    }

    #[test]
    fn multipart_flags() {
        let mut mp = Multipart::new();
        mp.push("a".to_string());
        mp.push(Msg::from("b").with_more(true));
        assert!(mp[0].more());
        assert!(!mp[1].more());
        let v: Vec<Msg> = vec![Msg::from("x"), Msg::from("y"), Msg::from("z")];
        let mp2 = Multipart::from(v);
        assert_eq!(
            mp2.iter().map(Msg::more).collect::<Vec<_>>(),
            [true, true, false]
        );
        assert_eq!(mp2.total_len(), 3);
        let mut mp3 = mp2.clone();
        assert_eq!(mp3.pop_front().unwrap(), Msg::from("x").with_more(true));
        assert_eq!(mp3.len(), 2);
        assert_eq!(mp2.into_vec().len(), 3);
    }
}
