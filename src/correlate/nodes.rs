//! Flow nodes: every flow of every capture point numbered in one range (point by point), so
//! that correlation can keep per-flow facts in flat vectors; [`FlowRef`] names a flow by its
//! point and its index there.

use crate::flow::Flow;
use crate::point::PointResult;

/// One flow of one capture point (a member of a conversation); ordered by point, then flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct FlowRef {
    pub(super) point: usize,
    /// Index into that point's flows.
    pub(super) flow: usize,
}

/// Global flow node ids: `base[point] + flow`.
pub(super) struct Nodes<'a> {
    pub(super) points: &'a [PointResult],
    base: Vec<usize>,
    /// The point of every node.
    pub(super) point_of: Vec<u32>,
    pub(super) n: usize,
}

impl<'a> Nodes<'a> {
    pub(super) fn new(points: &'a [PointResult]) -> Nodes<'a> {
        let mut base = Vec::with_capacity(points.len());
        let mut point_of = Vec::new();
        for (pi, p) in points.iter().enumerate() {
            base.push(point_of.len());
            point_of.extend(std::iter::repeat_n(pi as u32, p.flows.len()));
        }
        let n = point_of.len();
        Nodes {
            points,
            base,
            point_of,
            n,
        }
    }
    #[inline]
    pub(super) fn id(&self, point: usize, flow: usize) -> usize {
        self.base[point] + flow
    }
    #[inline]
    pub(super) fn locate(&self, node: usize) -> (usize, usize) {
        let pi = self.point_of[node] as usize;
        (pi, node - self.base[pi])
    }
    #[inline]
    pub(super) fn flow_ref(&self, node: usize) -> FlowRef {
        let (point, flow) = self.locate(node);
        FlowRef { point, flow }
    }
    #[inline]
    pub(super) fn flow(&self, node: usize) -> &'a Flow {
        let (p, f) = self.locate(node);
        &self.points[p].flows[f]
    }
    pub(super) fn total_samples(&self, node: usize) -> usize {
        self.flow(node)
            .samples
            .as_deref()
            .map_or(0, |s| s[0].samples().len() + s[1].samples().len())
    }
}
