//! Step 3 of building a conversation: the packets followed across points. The members'
//! samples become sightings (`Obs`) on the aligned timeline; sightings with the same key, in
//! the same direction, within [`MATCH_WINDOW_NS`] of the packet's first, are one packet, with
//! at most one arriving and one leaving sighting per point (retransmitted copies are other
//! packets). Each packet's sightings are then put in path order: the point hosting the sender
//! first, the point hosting the receiver last, the others by TTL (forwarding lowers it),
//! arriving before leaving, then time. Grouping costs O(sightings x [`LOOK_BACK`]) whatever
//! the traffic: among many sightings of one key (look-alike packets of many clients) a
//! sighting looks back at the packets of the last [`MATCH_WINDOW_NS`], at most
//! [`LOOK_BACK`] of them.

use super::{ends, Context, Role};
use crate::correlate::model::Sighting;
use crate::correlate::nodes::FlowRef;
use crate::correlate::MATCH_WINDOW_NS;
use crate::flow::Sample;
use crate::hash::FastState;

/// (packet, point, leaving) of the sightings grouped so far.
type Taken = std::collections::HashSet<(u32, usize, bool), FastState>;

/// Packets of one key a sighting may join, the latest first: more within the window are
/// look-alikes that time cannot tell apart anyway, and the sighting starts a packet of its
/// own.
const LOOK_BACK: usize = 64;

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
    /// (packet, point, leaving) of the sightings grouped so far: one of each per packet.
    taken: Taken,
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
        cluster(&s.obs, &mut s.cluster_of, &mut s.heads, &mut s.taken);
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
/// same direction, within the window, one arriving and one leaving sighting per point. The
/// sightings of a key are in time order, so are its packets: a sighting looks back from the
/// latest packet until one is out of the window, [`LOOK_BACK`] at most.
fn cluster(obs: &[Obs], cluster_of: &mut Vec<u32>, heads: &mut Vec<usize>, taken: &mut Taken) {
    cluster_of.clear();
    heads.clear();
    if taken.capacity() > 4 * obs.len() + 1024 {
        *taken = Taken::default(); // clearing a large table costs its size
    }
    taken.clear();
    let mut i = 0;
    while i < obs.len() {
        let start = heads.len();
        let key = obs[i].key;
        while i < obs.len() && obs[i].key == key {
            let o = &obs[i];
            let (point, leaving) = (o.sighting.point, o.sighting.leaving);
            let slot = (start..heads.len())
                .rev()
                .take(LOOK_BACK)
                .take_while(|&c| o.ts - obs[heads[c]].ts <= MATCH_WINDOW_NS)
                .find(|&c| {
                    obs[heads[c]].cdir == o.cdir && !taken.contains(&(c as u32, point, leaving))
                });
            let c = match slot {
                Some(c) => c as u32,
                None => {
                    heads.push(i);
                    (heads.len() - 1) as u32
                }
            };
            cluster_of.push(c);
            taken.insert((c, point, leaving));
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
        ..
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Endpoint;

    /// A sighting of key 7 at `point`, at `ts` (ns), in client direction `cdir`.
    fn obs(point: usize, ts: i64, cdir: u8) -> Obs {
        let end = Endpoint {
            ip: std::net::Ipv4Addr::new(10, 0, 0, 1).into(),
            port: 53,
        };
        Obs {
            key: 7,
            ts,
            cdir,
            rank: Role::Transit,
            sample: Sample::default(),
            sighting: Sighting {
                point,
                ts,
                ttl: 64,
                leaving: false,
                src: end,
                dst: end,
                frame: 1,
            },
        }
    }

    fn clusters(o: &[Obs]) -> (Vec<u32>, Vec<usize>) {
        let (mut of, mut heads, mut taken) = (Vec::new(), Vec::new(), Taken::default());
        cluster(o, &mut of, &mut heads, &mut taken);
        (of, heads)
    }

    #[test]
    fn look_alike_sightings_pair_one_per_point() {
        // 20,000 look-alike packets 50 us apart, each seen at two points at once (on the
        // aligned timeline): 10,000 within the window of each
        let o: Vec<Obs> = (0..20_000i64)
            .flat_map(|k| [obs(0, k * 50_000, 0), obs(1, k * 50_000 + 1, 0)])
            .collect();
        let (of, heads) = clusters(&o);
        assert_eq!(heads.len(), 20_000);
        let mut size = vec![0u32; heads.len()];
        for c in of {
            size[c as usize] += 1;
        }
        assert!(size.iter().all(|&n| n == 2));
    }

    #[test]
    fn a_sighting_looks_back_at_most_look_back_packets() {
        // a packet seen at point 0, then more look-alikes in the other direction than a
        // sighting looks back at: the last sighting (point 1) starts a packet of its own
        let mut o = vec![obs(0, 0, 0)];
        o.extend((0..LOOK_BACK as i64).map(|k| obs(0, 1 + k, 1)));
        o.push(obs(1, 1_000, 0));
        let (of, heads) = clusters(&o);
        assert_eq!(heads.len(), LOOK_BACK + 2);
        // within the bound it joins the first packet
        o.remove(1);
        let (of2, heads2) = clusters(&o);
        assert_eq!(heads2.len(), LOOK_BACK);
        assert_eq!(of2.last(), Some(&0));
        assert_ne!(of.last(), Some(&0));
    }

    #[test]
    fn sightings_out_of_the_window_start_a_packet() {
        let o = [obs(0, 0, 0), obs(1, MATCH_WINDOW_NS + 1, 0)];
        assert_eq!(clusters(&o).1.len(), 2);
        let o = [obs(0, 0, 0), obs(1, MATCH_WINDOW_NS, 0)];
        assert_eq!(clusters(&o).1.len(), 1);
    }
}
