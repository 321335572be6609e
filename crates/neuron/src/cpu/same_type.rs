//! A slice of a generic element type seen as a slice of a concrete one, when the two are the same
//! type: how the `f32`-only kernels are reached from code generic over [`crate::float::Float`].

use std::any::TypeId;

/// `s` as a slice of `U`, which it is when `T` and `U` are the same type; else `None`.
#[inline(always)]
pub(super) fn same<T: 'static, U: 'static>(s: &[T]) -> Option<&[U]> {
    // SAFETY: `T` and `U` are the same type (checked), so only the name changes.
    (TypeId::of::<T>() == TypeId::of::<U>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr() as *const U, s.len()) })
}

/// [`same`] for a mutable slice.
#[inline(always)]
pub(super) fn same_mut<T: 'static, U: 'static>(s: &mut [T]) -> Option<&mut [U]> {
    // SAFETY: as for `same`.
    (TypeId::of::<T>() == TypeId::of::<U>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut U, s.len()) })
}
