//! Cache-line padding for the ring's shared cursors.

use std::ops::Deref;

/// Aligns (and so pads) its content to 128 bytes: two 64-byte lines, because
/// the adjacent-line prefetcher of x86 cores pulls lines in pairs. Keeps the
/// producer's cursor, the consumer's cursor and the control words on lines of
/// their own, so one side's writes never invalidate the other side's reads of
/// an unrelated word (no false sharing).
#[repr(align(128))]
#[derive(Debug, Default)]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}
