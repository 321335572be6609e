//! The CPU backend's buffer: a heap array whose first element sits on a 64-byte boundary.
//!
//! A 64-byte vector load (AVX-512) from an address that is not a multiple of 64 reads two cache
//! lines. `Vec`'s memory comes from `malloc`, which aligns to 16 bytes only, so a weight matrix
//! could start 16, 32 or 48 bytes into a line and every load from it straddle two lines. On the
//! Intel Xeon measured (`BENCHMARKS.md`, change 13; `bench/gemv_alignment.c`), one sample
//! through a 784→256 layer with AVX-512 loads took 6.3–6.4 µs on one core from an aligned matrix
//! and 12.0–13.7 µs from one 16, 32 or 48 bytes off (AVX2 loads: 8.6 against 8.8–14.1 µs): with
//! unaligned buffers the AVX-512 one-sample kernel lost to the AVX2 one, with aligned ones it wins.

use std::alloc::{self, Layout};
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::error::{NeuronError, Result};

/// Alignment of every [`CpuBuf`] in bytes (one cache line, one AVX-512 register).
pub const ALIGN: usize = 64;

/// A buffer of the CPU backend ([`crate::Cpu`]): `len` elements of `T` starting on a 64-byte
/// boundary. It dereferences to a slice, so it reads and writes like one.
///
/// ```
/// use neuron::{Backend, Cpu};
/// let cpu = Cpu::<f32>::new();
/// let buf = cpu.upload(&[1.0, 2.0, 3.0]).unwrap();
/// assert_eq!(&buf[..], &[1.0, 2.0, 3.0]);
/// assert_eq!(buf.as_ptr() as usize % 64, 0);
/// ```
pub struct CpuBuf<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: a `CpuBuf` owns its elements exclusively, like a `Vec<T>`.
unsafe impl<T: Copy + Send> Send for CpuBuf<T> {}
// SAFETY: shared access only hands out `&[T]`.
unsafe impl<T: Copy + Sync> Sync for CpuBuf<T> {}

impl<T: Copy> CpuBuf<T> {
    fn layout(len: usize) -> Result<Layout> {
        len.checked_mul(std::mem::size_of::<T>())
            .and_then(|bytes| {
                Layout::from_size_align(bytes, ALIGN.max(std::mem::align_of::<T>())).ok()
            })
            .ok_or_else(|| {
                NeuronError::arg(format!("a buffer of {len} elements does not fit in memory"))
            })
    }

    /// Allocates room for `len` elements, zero-filled when `zeroed`; `None` when nothing needs
    /// allocating (no elements, or zero-sized ones).
    fn allocate(len: usize, zeroed: bool) -> Result<Option<NonNull<T>>> {
        let layout = Self::layout(len)?;
        if layout.size() == 0 {
            return Ok(None);
        }
        // SAFETY: the layout has a non-zero size.
        let p = unsafe {
            if zeroed {
                alloc::alloc_zeroed(layout)
            } else {
                alloc::alloc(layout)
            }
        };
        match NonNull::new(p as *mut T) {
            Some(p) => Ok(Some(p)),
            None => Err(NeuronError::arg(format!(
                "out of memory: could not allocate a buffer of {} bytes",
                layout.size()
            ))),
        }
    }

    /// `len` elements whose bytes are all zero (`0.0` for `f32` and `f64`). Fails when the
    /// memory cannot be had.
    pub fn zeroed(len: usize) -> Result<Self> {
        let ptr = Self::allocate(len, true)?.unwrap_or(NonNull::dangling());
        Ok(CpuBuf { ptr, len })
    }

    /// A copy of `data`. `before_fill` sees the new, still untouched memory (as a pointer and a
    /// size in bytes) before it is written, for advice to the operating system.
    pub(super) fn copy_with(data: &[T], before_fill: impl FnOnce(*mut u8, usize)) -> Result<Self> {
        let len = data.len();
        let Some(ptr) = Self::allocate(len, false)? else {
            return Ok(CpuBuf {
                ptr: NonNull::dangling(),
                len,
            });
        };
        before_fill(ptr.as_ptr() as *mut u8, std::mem::size_of_val(data));
        // SAFETY: the new allocation holds `len` elements and cannot overlap `data`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr.as_ptr(), len) };
        Ok(CpuBuf { ptr, len })
    }

    /// A copy of `data`. Fails when the memory cannot be had.
    pub fn from_slice(data: &[T]) -> Result<Self> {
        Self::copy_with(data, |_, _| {})
    }

    /// Runs `f` with `data` itself as a buffer, read in place (no copy). Unlike the buffers this
    /// type allocates, its first element sits wherever `data`'s does, not necessarily on a
    /// 64-byte boundary (the kernels load unaligned; alignment only makes loads faster).
    pub(super) fn lend<R>(data: &[T], f: impl FnOnce(&CpuBuf<T>) -> R) -> R {
        // SAFETY (of what follows): the view is never dropped, so it never frees memory it does
        // not own, and `f` gets a shared reference only, through which `data` is only read
        // (writing to a buffer needs `&mut`); the borrow of `data` outlives `f`.
        let view = ManuallyDrop::new(CpuBuf {
            ptr: NonNull::from(data).cast::<T>(),
            len: data.len(),
        });
        f(&view)
    }
}

impl<T: Copy> Drop for CpuBuf<T> {
    fn drop(&mut self) {
        // The layout was valid when the buffer was made, so it is now.
        if let Ok(layout) = Self::layout(self.len) {
            if layout.size() != 0 {
                // SAFETY: allocated in `allocate` with this same layout.
                unsafe { alloc::dealloc(self.ptr.as_ptr() as *mut u8, layout) };
            }
        }
    }
}

impl<T: Copy> Deref for CpuBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` holds `len` initialised elements (or is dangling with a zero-sized view).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for CpuBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Clone for CpuBuf<T> {
    /// A copy. Like `Vec::clone`, it aborts the process if the memory cannot be had.
    fn clone(&self) -> Self {
        Self::from_slice(self).unwrap_or_else(|_| match Self::layout(self.len) {
            Ok(layout) => alloc::handle_alloc_error(layout),
            Err(e) => panic!("{e}"),
        })
    }
}

impl<'a, T: Copy> IntoIterator for &'a CpuBuf<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T: Copy> IntoIterator for &'a mut CpuBuf<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T: Copy + fmt::Debug> fmt::Debug for CpuBuf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Copy + PartialEq> PartialEq for CpuBuf<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lent buffer reads the caller's memory in place, at any offset, and leaves it to its
    /// owner (a clone is an owned, aligned copy).
    #[test]
    fn lent_buffers_read_in_place() {
        let data: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        for start in [0, 1, 3, 1000] {
            let part = &data[start..];
            let owned = CpuBuf::lend(part, |b| {
                assert_eq!(b.as_ptr(), part.as_ptr());
                assert_eq!(&b[..], part);
                b.clone()
            });
            assert_eq!(&owned[..], part);
            if !part.is_empty() {
                assert_eq!(owned.as_ptr() as usize % ALIGN, 0);
            }
        }
        assert_eq!(data[999], 999.0);
    }

    #[test]
    fn buffers_are_aligned_and_hold_their_data() {
        for n in [0, 1, 3, 16, 17, 1000, 100_003] {
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 7.0).collect();
            let b = CpuBuf::from_slice(&data).unwrap();
            assert_eq!(&b[..], &data[..]);
            let c = b.clone();
            assert_eq!(c, b);
            let z = CpuBuf::<f64>::zeroed(n).unwrap();
            assert!(z.iter().all(|&v| v == 0.0));
            assert_eq!(z.len(), n);
            if n > 0 {
                for p in [
                    b.as_ptr() as usize,
                    c.as_ptr() as usize,
                    z.as_ptr() as usize,
                ] {
                    assert_eq!(p % ALIGN, 0, "n {n}");
                }
            }
        }
        assert!(CpuBuf::<f32>::zeroed(usize::MAX / 2).is_err());
        let mut m = CpuBuf::<f32>::zeroed(5).unwrap();
        m[2] = 4.0;
        m.iter_mut().for_each(|v| *v += 1.0);
        assert_eq!(format!("{m:?}"), "[1.0, 1.0, 5.0, 1.0, 1.0]");
    }
}
