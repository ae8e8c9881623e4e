//! A vector that holds exactly its elements: a boxed slice that grows by one
//! reallocation per push. For the small per-call lists of the correlator, where
//! a `Vec`'s spare capacity (4 at the first push, then doubling) and its third
//! word were a fifth of a call's memory and the lists rarely exceed a dozen.

use std::ops::{Deref, DerefMut};

/// A `Box<[T]>` with `Vec`-like appends; no spare capacity, two words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExactVec<T>(Box<[T]>);

impl<T> ExactVec<T> {
    pub(crate) fn new() -> Self {
        Self(Box::default())
    }

    /// Appends `items`, growing the allocation to exactly the new length.
    pub(crate) fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        let items = items.into_iter();
        let mut v = std::mem::take(&mut self.0).into_vec();
        v.reserve_exact(items.size_hint().0);
        v.extend(items);
        // Cannot reallocate when the hint was exact (the common case): capacity
        // equals length.
        self.0 = v.into_boxed_slice();
    }

    pub(crate) fn push(&mut self, item: T) {
        self.extend(std::iter::once(item));
    }

    /// Removes element `i`, moving the last into its place; `None` if out of range.
    pub(crate) fn swap_remove(&mut self, i: usize) -> Option<T> {
        if i >= self.0.len() {
            return None;
        }
        let mut v = std::mem::take(&mut self.0).into_vec();
        let out = v.swap_remove(i);
        self.0 = v.into_boxed_slice();
        Some(out)
    }
}

impl<T> Default for ExactVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> From<Vec<T>> for ExactVec<T> {
    fn from(v: Vec<T>) -> Self {
        Self(v.into_boxed_slice())
    }
}

impl<T> IntoIterator for ExactVec<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_vec().into_iter()
    }
}

impl<'a, T> IntoIterator for &'a ExactVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> Deref for ExactVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for ExactVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ExactVec;

    #[test]
    fn grows_and_shrinks_to_exactly_its_elements() {
        let mut v = ExactVec::new();
        assert!(v.is_empty());
        for i in 0..5u32 {
            v.push(i);
            assert_eq!(v.len(), usize::try_from(i).unwrap() + 1);
        }
        v.extend([7, 8]);
        assert_eq!(&*v, &[0, 1, 2, 3, 4, 7, 8]);
        assert_eq!(v.swap_remove(1), Some(1));
        assert_eq!(&*v, &[0, 8, 2, 3, 4, 7]);
        assert_eq!(v.swap_remove(6), None, "out of range leaves it alone");
        assert_eq!(v.swap_remove(5), Some(7));
        assert_eq!(&*v, &[0, 8, 2, 3, 4]);
        v[0] = 9;
        assert_eq!(v.into_iter().collect::<Vec<_>>(), vec![9, 8, 2, 3, 4]);
    }

    #[test]
    fn extend_with_an_inexact_hint_still_holds_every_item() {
        let mut v: ExactVec<u32> = vec![1].into();
        v.extend((0..10).filter(|i| i % 3 == 0));
        assert_eq!(&*v, &[1, 0, 3, 6, 9]);
    }
}
