//! The memory barriers of the wake-up handshakes, and the process-wide
//! barrier that lets a ring run them asymmetrically.
//!
//! Each handshake is a store-buffering (Dekker) pattern: one side stores a
//! cursor and then loads a flag, the other stores the flag and then loads
//! the cursor, and at least one of them must see the other's store. The
//! plain way puts a full fence between the store and the load on both
//! sides. On x86 that fence waits until the store has left the store
//! buffer, and a cursor store must first fetch its cache line back from the
//! other core: tens to hundreds of nanoseconds on every publish.
//!
//! The asymmetric way gives the frequent side (publish, release) only a
//! compiler barrier and the rare side (going to sleep, waiting for room) a
//! process-wide barrier: Linux's `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`
//! makes every running thread of the process execute a full memory barrier
//! before it returns (threads that are not running pass through the
//! scheduler, which implies one). For any interleaving, the frequent side's
//! store and load are then separated by a full barrier as far as the rare
//! side can tell, which is what the pattern needs (this is the pairing the
//! `membarrier(2)` manual describes: a compiler barrier on the fast path,
//! `membarrier` on the slow path, "the same effect as a memory barrier on
//! both").
//!
//! The process registers for the expedited command once, when the first
//! ring that asks for it is built. Where the kernel refuses (not Linux,
//! a kernel before 4.14, a seccomp filter), without the `membarrier`
//! feature (on by default) or under miri, rings keep the symmetric fences.
//! Under loom both barriers are `fence(SeqCst)`, which is
//! exactly the guarantee the process-wide barrier gives and which loom
//! models, so the models check the asymmetric rings' protocol as written.

use crate::sync::{fence, Ordering};

/// The frequent side's barrier: a compiler barrier on an asymmetric ring,
/// a full fence otherwise.
#[inline(always)]
pub(crate) fn light(asymmetric: bool) {
    #[cfg(not(loom))]
    if asymmetric {
        crate::sync::compiler_fence(Ordering::SeqCst);
        return;
    }
    #[cfg(loom)]
    let _ = asymmetric;
    fence(Ordering::SeqCst);
}

/// The rare side's barrier: a process-wide barrier on an asymmetric ring, a
/// full fence otherwise. Returns false if the process-wide barrier failed
/// (it cannot once registration succeeded; the caller then must not rely
/// on the handshake and keeps polling instead of sleeping).
#[inline]
pub(crate) fn heavy(asymmetric: bool) -> bool {
    fence(Ordering::SeqCst);
    if asymmetric {
        sys::barrier()
    } else {
        true
    }
}

/// Whether this process can run asymmetric handshakes; registers for them
/// the first time it is asked.
pub(crate) fn asymmetric_available() -> bool {
    sys::available()
}

#[cfg(loom)]
mod sys {
    pub(super) fn available() -> bool {
        true
    }

    pub(super) fn barrier() -> bool {
        // `heavy` already ran `fence(SeqCst)`, which is what loom can model.
        true
    }
}

#[cfg(all(
    not(loom),
    any(miri, not(target_os = "linux"), not(feature = "membarrier"))
))]
mod sys {
    pub(super) fn available() -> bool {
        false
    }

    pub(super) fn barrier() -> bool {
        false
    }
}

#[cfg(all(not(loom), not(miri), target_os = "linux", feature = "membarrier"))]
mod sys {
    use std::sync::OnceLock;

    /// `MEMBARRIER_CMD_PRIVATE_EXPEDITED` from `<linux/membarrier.h>`.
    const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    /// `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED`.
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    fn membarrier(cmd: libc::c_int) -> bool {
        // SAFETY: `membarrier(cmd, flags, cpu_id)` takes three integers and
        // reads or writes no memory of this process; an unsupported command
        // or kernel only makes it return -1 (ENOSYS, EINVAL, EPERM).
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_uint,
                0 as libc::c_int,
            ) == 0
        }
    }

    pub(super) fn available() -> bool {
        static REGISTERED: OnceLock<bool> = OnceLock::new();
        *REGISTERED.get_or_init(|| {
            let ok = membarrier(CMD_REGISTER_PRIVATE_EXPEDITED);
            if !ok {
                tracing::debug!(
                    error = %std::io::Error::last_os_error(),
                    "membarrier unavailable: rings keep a fence on every publish"
                );
            }
            ok
        })
    }

    pub(super) fn barrier() -> bool {
        let ok = membarrier(CMD_PRIVATE_EXPEDITED);
        if !ok {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "membarrier failed after registration; the ring polls instead of sleeping"
            );
        }
        ok
    }
}
