//! list: two compact list types for the conversations, of which a capture can hold millions.
//!
//! Most lists in a conversation hold one element (the capture point that saw it, the flow it
//! is made of, the single hop of each direction) or none (NAT rewrites, losses, ICMP errors,
//! packet traces of a conversation seen at one point). A `Vec` costs 24 bytes and, once it
//! holds anything, an allocation of its own:
//! - [`OneOrVec`] keeps a single element inline, and only a longer list on the heap;
//! - [`RareVec`] is one pointer wide, and allocates only when it holds something.
//!
//! Both read like slices (`Deref<Target = [T]>`, `&list` iterates), so code that only reads
//! them does not see the difference.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// A list that holds one element without allocating (see the module docs).
#[derive(Clone)]
pub enum OneOrVec<T> {
    One(T),
    /// Empty, more than one element, or room reserved for more.
    Many(Vec<T>),
}

impl<T> OneOrVec<T> {
    /// An empty list (no allocation).
    pub const fn new() -> Self {
        OneOrVec::Many(Vec::new())
    }

    /// A list of one element (no allocation).
    pub fn one(x: T) -> Self {
        OneOrVec::One(x)
    }

    /// Appends an element: inline when the list is empty and has no room reserved
    /// (`Many(Vec::with_capacity(n))` keeps its room).
    pub fn push(&mut self, x: T) {
        match self {
            OneOrVec::Many(v) if v.capacity() == 0 => *self = OneOrVec::One(x),
            OneOrVec::Many(v) => v.push(x),
            OneOrVec::One(_) => {
                let OneOrVec::One(first) = std::mem::take(self) else {
                    return;
                };
                *self = OneOrVec::Many(vec![first, x]);
            }
        }
    }

    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrVec::One(x) => std::slice::from_ref(x),
            OneOrVec::Many(v) => v,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            OneOrVec::One(x) => std::slice::from_mut(x),
            OneOrVec::Many(v) => v,
        }
    }
}

impl<T> Default for OneOrVec<T> {
    fn default() -> Self {
        OneOrVec::new()
    }
}

/// Equal when the elements are (however they are stored).
impl<T: PartialEq> PartialEq for OneOrVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for OneOrVec<T> {}

impl<T> From<Vec<T>> for OneOrVec<T> {
    fn from(mut v: Vec<T>) -> Self {
        if v.len() == 1 {
            if let Some(x) = v.pop() {
                return OneOrVec::One(x);
            }
        }
        OneOrVec::Many(v)
    }
}

impl<T> FromIterator<T> for OneOrVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Vec::from_iter(iter).into()
    }
}

impl<T> Deref for OneOrVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> DerefMut for OneOrVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<'a, T> IntoIterator for &'a OneOrVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// Prints like a `Vec`.
impl<T: fmt::Debug> fmt::Debug for OneOrVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A list that is usually empty: one pointer wide, allocated only when it holds something
/// (see the module docs).
#[derive(Clone, PartialEq, Eq)]
// the box is the point: a `Vec` is three words, the box one
#[allow(clippy::box_collection)]
pub struct RareVec<T>(Option<Box<Vec<T>>>);

impl<T> RareVec<T> {
    /// An empty list (no allocation).
    pub const fn new() -> Self {
        RareVec(None)
    }

    pub fn as_slice(&self) -> &[T] {
        match &self.0 {
            Some(v) => v,
            None => &[],
        }
    }
}

impl<T> Default for RareVec<T> {
    fn default() -> Self {
        RareVec::new()
    }
}

impl<T> From<Vec<T>> for RareVec<T> {
    fn from(v: Vec<T>) -> Self {
        if v.is_empty() {
            RareVec(None)
        } else {
            RareVec(Some(Box::new(v)))
        }
    }
}

impl<T> FromIterator<T> for RareVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Vec::from_iter(iter).into()
    }
}

impl<T> Deref for RareVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<'a, T> IntoIterator for &'a RareVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// Prints like a `Vec`.
impl<T: fmt::Debug> fmt::Debug for RareVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_vec_keeps_one_element_inline_and_grows_on_the_heap() {
        let mut l: OneOrVec<u32> = OneOrVec::new();
        assert!(l.is_empty());
        assert!(matches!(&l, OneOrVec::Many(v) if v.capacity() == 0));
        l.push(7);
        assert!(matches!(l, OneOrVec::One(7)));
        assert_eq!(&l[..], &[7]);
        l.push(8);
        l.push(9);
        assert_eq!(&l[..], &[7, 8, 9]);
        l[1] = 5;
        assert_eq!(l.iter().copied().collect::<Vec<_>>(), vec![7, 5, 9]);
        assert_eq!((&l).into_iter().count(), 3);
        assert_eq!(format!("{l:?}"), format!("{:?}", vec![7, 5, 9]));
        assert_eq!(format!("{:?}", OneOrVec::one(1)), "[1]");
        assert_eq!(OneOrVec::one(4), OneOrVec::Many(vec![4]));
    }

    #[test]
    fn one_or_vec_keeps_the_room_reserved_for_more() {
        let mut l: OneOrVec<u32> = OneOrVec::Many(Vec::with_capacity(3));
        l.push(1);
        assert!(matches!(&l, OneOrVec::Many(v) if v.capacity() >= 3 && v.len() == 1));
        l.push(2);
        assert_eq!(&l[..], &[1, 2]);
    }

    #[test]
    fn one_or_vec_from_vec_stores_one_element_inline() {
        assert!(matches!(OneOrVec::from(vec![3u8]), OneOrVec::One(3)));
        assert_eq!(&OneOrVec::from(vec![1u8, 2])[..], &[1, 2]);
        assert!(OneOrVec::<u8>::from(Vec::new()).is_empty());
    }

    #[test]
    fn rare_vec_allocates_only_when_it_holds_something() {
        let e: RareVec<u64> = RareVec::from(Vec::new());
        assert!(e.0.is_none());
        assert!(e.is_empty());
        assert_eq!(format!("{e:?}"), "[]");
        let l = RareVec::from(vec![1u64, 2]);
        assert_eq!(&l[..], &[1, 2]);
        assert_eq!(l.first(), Some(&1));
        assert_eq!((&l).into_iter().sum::<u64>(), 3);
        assert_eq!(format!("{l:#?}"), format!("{:#?}", vec![1u64, 2]));
        assert_eq!(std::mem::size_of::<RareVec<u64>>(), 8);
    }
}
