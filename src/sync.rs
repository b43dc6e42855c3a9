//! The one import point for synchronisation primitives.
//!
//! Every atomic, `UnsafeCell`, `Arc`, thread handle and park/unpark used by the
//! library comes from here. Under `cfg(loom)` these are loom's model-checked
//! versions, so the ring's models in `tests/loom_ring.rs` explore every
//! interleaving of the real code; otherwise they are the `std` ones.
//!
//! Nothing else in the crate imports `std::sync::atomic` directly.

#![allow(unused_imports, dead_code)]

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread;

/// A compiler-only barrier; loom does not model it, so rings use it only
/// outside loom (see `ring::barrier`).
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::compiler_fence;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::thread;

/// A hint inside spin loops. Under loom it yields so the model can make
/// progress; otherwise it is the CPU's pause instruction.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Interior mutability with loom's closure API, so the same code checks under
/// loom (which tracks every access) and compiles to a plain `UnsafeCell`
/// otherwise.
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Interior mutability with loom's closure API (the `std` build).
#[cfg(not(loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
#[allow(dead_code)]
impl<T> UnsafeCell<T> {
    /// Wraps a value.
    #[inline(always)]
    pub(crate) const fn new(data: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(data))
    }

    /// Gives the closure a shared raw pointer to the value.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Gives the closure a mutable raw pointer to the value.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// `std`'s `Arc`, also under loom. Used for handles that are only reference
/// counted and never model-checked themselves (notifier objects handed in by
/// callers, which coerce to `Arc<dyn Trait>`, something loom's `Arc` cannot do).
pub(crate) use std::sync::Arc as StdArc;

/// The clock used by bounded waits (`*_timeout` calls). Loom does not model
/// time; models never use the bounded waits.
pub(crate) use std::time::{Duration, Instant};

/// Blocks the current thread until it is unparked or `timeout` has elapsed
/// (spurious wake-ups are allowed, callers re-check their condition). Under
/// loom, which has no timed park, this only yields: a bounded wait there
/// behaves like a spin with a spurious wake-up.
#[inline]
pub(crate) fn park_timeout(timeout: Duration) {
    #[cfg(loom)]
    {
        let _ = timeout;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    std::thread::park_timeout(timeout);
}
