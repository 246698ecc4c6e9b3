//! Step 6 of building a conversation: the directions that vanished on the way (see the
//! module docs of `correlate`): a direction that never reached the point hosting its
//! receiver was lost `after X` when X saw it arrive and never leave, `between X and Y` when
//! it left X (or was sent there) and never reached Y.

use super::{Context, Role};
use crate::correlate::hosts::routable;
use crate::correlate::model::{Dir, Hop, Loss};
use crate::correlate::nodes::FlowRef;
use crate::flow::Flow;
use crate::list::OneOrVec;

impl Context<'_> {
    /// Directions that vanished on the way, of traffic that routers forward (unicast, not
    /// link-local; `vf`, the client's view, tells): see the module docs. `cdir` orients the
    /// members, `role_of` is the role of a point per direction.
    pub(super) fn losses(
        &self,
        route: &[OneOrVec<Hop>; 2],
        members: &[FlowRef],
        cdir: impl Fn(usize) -> usize,
        role_of: impl Fn(usize, usize) -> Role,
        vf: &Flow,
    ) -> Vec<Loss> {
        let mut losses = Vec::new();
        let routed = routable(&vf.key.lo.ip) && routable(&vf.key.hi.ip);
        for (d, hops) in route.iter().enumerate() {
            if !routed {
                break;
            }
            let Some(last) = hops.last() else {
                continue;
            };
            let x = last.point;
            let role = role_of(x, d);
            // the point hosting the receiver as seen at the last point (the first such
            // receiver that has one)
            let dest = members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.point == x)
                .find_map(|(i, m)| {
                    let fd = if d == 0 { cdir(i) } else { 1 - cdir(i) };
                    self.host(m, 1 - fd)
                });
            match dest {
                Some(y) if hops.iter().any(|h| h.point == y) => {}
                Some(y) => {
                    // only when y was capturing at the time
                    let covered = self
                        .window(y)
                        .is_some_and(|[(a, b), _]| a <= last.first_ts && last.first_ts <= b);
                    if !covered {
                        continue;
                    }
                    if last.forwarded || role == Role::HostsSender {
                        losses.push(Loss::Between {
                            dir: Dir::from_index(d),
                            from: x,
                            to: y,
                        });
                    } else {
                        losses.push(Loss::After {
                            dir: Dir::from_index(d),
                            point: x,
                        });
                    }
                }
                None => {
                    let forwarder = self.points[x].summary.forwarded_packets > 0;
                    if forwarder && role == Role::Transit && !last.forwarded {
                        losses.push(Loss::After {
                            dir: Dir::from_index(d),
                            point: x,
                        });
                    }
                }
            }
        }
        losses
    }
}
