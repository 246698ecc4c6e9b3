//! The points of one direction's path, by name: what judging compares (the same points? in
//! reverse order?) and what the sentence lists.

use crate::correlate::{Conversation, Hop};

/// The points of one direction's path, by name, in path order.
#[derive(Clone, Copy)]
pub(super) struct Path<'a> {
    pub(super) hops: &'a [Hop],
    pub(super) names: &'a [String],
}

impl<'a> Path<'a> {
    /// Direction `dir`'s path (0 the requests, 1 the replies).
    pub(super) fn of(c: &'a Conversation, dir: usize, names: &'a [String]) -> Path<'a> {
        Path {
            hops: &c.route[dir],
            names,
        }
    }
    pub(super) fn len(&self) -> usize {
        self.hops.len()
    }
    pub(super) fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }
    pub(super) fn name(&self, k: usize) -> &'a str {
        self.hops
            .get(k)
            .and_then(|h| self.names.get(h.point))
            .map_or("?", String::as_str)
    }
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = &'a str> + '_ {
        (0..self.len()).map(|k| self.name(k))
    }
    pub(super) fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
    /// The same names, as many times each, in any order.
    pub(super) fn same_points(&self, other: &Path) -> bool {
        let count = |p: &Path, name: &str| p.iter().filter(|&n| n == name).count();
        self.len() == other.len() && self.iter().all(|n| count(self, n) == count(other, n))
    }
    /// True when every point that saw one direction only (`self` the requests, `other` the
    /// replies) was not capturing when the other direction ran.
    pub(super) fn differs_only_where_uncovered(&self, other: &Path, c: &Conversation) -> bool {
        let has = |p: &Path, pt: usize| p.hops.iter().any(|h| h.point == pt);
        let missed = |pt: usize, dir: usize| c.uncovered_at(pt).is_some_and(|u| u.covers_not(dir));
        self.hops
            .iter()
            .all(|h| has(other, h.point) || missed(h.point, 1))
            && other
                .hops
                .iter()
                .all(|h| has(self, h.point) || missed(h.point, 0))
    }
    /// The same names in the opposite order.
    pub(super) fn reverse_of(&self, other: &Path) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter().rev())
    }
    /// The names joined by `sep`, those for which `keep` holds.
    pub(super) fn put(&self, out: &mut String, sep: &str, keep: impl Fn(&str) -> bool) {
        for (k, n) in self.iter().filter(|&n| keep(n)).enumerate() {
            if k > 0 {
                out.push_str(sep);
            }
            out.push_str(n);
        }
    }
    pub(super) fn put_all(&self, out: &mut String, sep: &str) {
        self.put(out, sep, |_| true);
    }
}
