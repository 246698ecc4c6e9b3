//! Step 3 of building a conversation: the packets followed across points. The members'
//! samples become sightings (`Obs`) on the aligned timeline; sightings with the same key, in
//! the same direction, within [`MATCH_WINDOW_NS`] of the packet's first, are one packet, with
//! at most one arriving and one leaving sighting per point (retransmitted copies are other
//! packets). Each packet's sightings are then put in path order: the point hosting the sender
//! first, the point hosting the receiver last, the others by TTL (forwarding lowers it),
//! arriving before leaving, then time.

use super::{ends, Context, Role};
use crate::correlate::model::Sighting;
use crate::correlate::nodes::FlowRef;
use crate::correlate::MATCH_WINDOW_NS;
use crate::flow::Sample;

/// A sampled sighting inside one conversation, before it is grouped into packets.
#[derive(Debug, Clone, Copy)]
pub(super) struct Obs {
    key: u64,
    pub(super) ts: i64,
    /// Direction of the client: 0 client to server.
    pub(super) cdir: u8,
    /// Where the point lies on the packet's path.
    rank: Role,
    pub(super) sample: Sample,
    pub(super) sighting: Sighting,
}

/// Buffers of this step.
#[derive(Default)]
pub(super) struct Scratch {
    obs: Vec<Obs>,
    /// The packet of each sighting.
    cluster_of: Vec<u32>,
    /// The first sighting of each packet.
    heads: Vec<usize>,
    /// Sightings (indices into `obs`) packet after packet, each in path order.
    ord: Vec<u32>,
    /// Each packet's range in `ord`.
    ranges: Vec<(usize, usize)>,
}

/// The packets of a conversation (a view into the step's buffers), numbered from 0.
pub(super) struct Packets<'a> {
    obs: &'a [Obs],
    heads: &'a [usize],
    ord: &'a [u32],
    ranges: &'a [(usize, usize)],
}

impl<'a> Packets<'a> {
    /// How many packets (distinct sampled packets).
    pub(super) fn len(&self) -> usize {
        self.heads.len()
    }

    /// The sightings of packet `c`, in path order.
    pub(super) fn sightings(&self, c: usize) -> impl Iterator<Item = &'a Obs> + '_ {
        let obs = self.obs;
        self.ord[self.ranges[c].0..self.ranges[c].1]
            .iter()
            .map(move |&k| &obs[k as usize])
    }

    /// How many sightings packet `c` has.
    pub(super) fn sighting_count(&self, c: usize) -> usize {
        self.ranges[c].1 - self.ranges[c].0
    }

    /// The first sighting of packet `c` (in time).
    pub(super) fn head(&self, c: usize) -> &'a Obs {
        &self.obs[self.heads[c]]
    }

    /// Direction of packet `c` (0 client to server).
    pub(super) fn dir(&self, c: usize) -> u8 {
        self.head(c).cdir
    }

    /// Packets seen at two points or more.
    pub(super) fn matched(&self) -> u64 {
        (0..self.len())
            .filter(|&c| {
                let first = self.head(c).sighting.point;
                self.sightings(c).any(|o| o.sighting.point != first)
            })
            .count() as u64
    }
}

impl Context<'_> {
    /// The sampled packets of the members, oriented by `cdir`, grouped into packets.
    pub(super) fn packets<'s>(
        &self,
        s: &'s mut Scratch,
        members: &[FlowRef],
        cdir: impl Fn(usize) -> usize,
    ) -> Packets<'s> {
        self.observe(&mut s.obs, members, cdir);
        cluster(&s.obs, &mut s.cluster_of, &mut s.heads);
        path_order(s);
        Packets {
            obs: &s.obs,
            heads: &s.heads,
            ord: &s.ord,
            ranges: &s.ranges,
        }
    }

    /// The sightings of the members' samples, sorted by key, time, point, leaving.
    fn observe(&self, obs: &mut Vec<Obs>, members: &[FlowRef], cdir: impl Fn(usize) -> usize) {
        obs.clear();
        for (i, m) in members.iter().enumerate() {
            let f = self.flow(m);
            let Some(smp) = f.samples.as_deref() else {
                continue;
            };
            for (fd, ds) in smp.iter().enumerate() {
                if ds.samples().is_empty() {
                    continue;
                }
                let cd = if fd == cdir(i) { 0u8 } else { 1 };
                let (src, dst) = ends(f, fd);
                let rank = self.role(m, fd);
                for smp in ds.samples() {
                    let ts = self.align(m.point, smp.ts);
                    obs.push(Obs {
                        key: smp.key,
                        ts,
                        cdir: cd,
                        rank,
                        sample: *smp,
                        sighting: Sighting {
                            point: m.point,
                            ts,
                            ttl: smp.ttl,
                            leaving: smp.leaving,
                            src,
                            dst,
                            frame: smp.frame,
                        },
                    });
                }
            }
        }
        obs.sort_unstable_by_key(|o| (o.key, o.ts, o.sighting.point, o.sighting.leaving));
    }
}

/// Each sighting's packet (`cluster_of`, the packets' first sightings in `heads`): same key,
/// same direction, within the window, one arriving and one leaving sighting per point.
fn cluster(obs: &[Obs], cluster_of: &mut Vec<u32>, heads: &mut Vec<usize>) {
    cluster_of.clear();
    heads.clear();
    let mut i = 0;
    while i < obs.len() {
        let start = heads.len();
        let run_start = i;
        let key = obs[i].key;
        while i < obs.len() && obs[i].key == key {
            let o = &obs[i];
            let slot = (start..heads.len()).rev().find(|&c| {
                let head = &obs[heads[c]];
                head.cdir == o.cdir
                    && o.ts - head.ts <= MATCH_WINDOW_NS
                    && !(run_start..i).any(|k| {
                        cluster_of[k] as usize == c
                            && obs[k].sighting.point == o.sighting.point
                            && obs[k].sighting.leaving == o.sighting.leaving
                    })
            });
            match slot {
                Some(c) => cluster_of.push(c as u32),
                None => {
                    cluster_of.push(heads.len() as u32);
                    heads.push(i);
                }
            }
            i += 1;
        }
    }
}

/// The sightings of every packet, in path order, one after the other (`ord`), and each
/// packet's range there (`ranges`).
fn path_order(s: &mut Scratch) {
    let Scratch {
        obs,
        cluster_of,
        heads,
        ord,
        ranges,
    } = s;
    ord.clear();
    ord.extend(0..obs.len() as u32);
    ord.sort_unstable_by_key(|&k| {
        let o = &obs[k as usize];
        (
            cluster_of[k as usize],
            o.rank,
            std::cmp::Reverse(o.sighting.ttl),
            o.sighting.leaving,
            o.ts,
            o.sighting.point,
        )
    });
    ranges.clear();
    ranges.resize(heads.len(), (0, 0));
    let mut k = 0;
    while k < ord.len() {
        let c = cluster_of[ord[k] as usize] as usize;
        let start = k;
        while k < ord.len() && cluster_of[ord[k] as usize] as usize == c {
            k += 1;
        }
        ranges[c] = (start, k);
    }
}
