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

/// The `std` `Arc`, never switched to loom's: for immutable shared handles
/// that take part in no synchronisation loom would need to model (for
/// example a callback held by a configuration, which loom's `Arc` cannot
/// hold because it does not coerce to `dyn` types).
pub(crate) use std::sync::Arc as StdArc;
