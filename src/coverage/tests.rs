use super::*;
use crate::correlate::ConvPoint;

fn at(point: usize, packets: [u64; 2], forwarded: [u64; 2]) -> ConvPoint {
    ConvPoint::for_test(point, packets, forwarded)
}

/// A conversation of protocol `proto` crossing points 0 -> 1 -> 2 both ways, with these
/// shares of it at each point.
fn conv(proto: u8, points: Vec<ConvPoint>) -> Conversation {
    let mut c = Conversation::udp_for_test(points, &[0, 1, 2], &[2, 1, 0]);
    c.ip_proto = proto;
    c
}

#[test]
fn a_forwarder_short_of_a_leg_missed_it() {
    // the middle point forwards both ways: 3 packets each way are 6 records; it holds 5 of
    // the requests (a leaving leg missed) and all the replies
    let c = conv(
        1,
        vec![
            at(0, [3, 3], [0, 0]),
            at(1, [5, 6], [2, 3]),
            at(2, [3, 3], [0, 0]),
        ],
    );
    assert_eq!(missing_at(&c, 0, 1), 1);
    assert_eq!(missing_at(&c, 1, 1), 0);
    // the sender's point saw all it sent; the receiver's is never charged
    assert_eq!(missing_at(&c, 0, 0), 0);
    assert_eq!(missing_at(&c, 0, 2), 0);
}

#[test]
fn a_point_that_saw_fewer_than_the_points_after_it_missed_them() {
    // the middle point does not forward (a tap): 2 of 3 requests seen there, 3 after it
    let c = conv(
        1,
        vec![
            at(0, [3, 3], [0, 0]),
            at(1, [2, 3], [0, 0]),
            at(2, [3, 3], [0, 0]),
        ],
    );
    assert_eq!(missing_at(&c, 0, 1), 1);
    // the sender's point missed one that was seen after it
    let c = conv(
        1,
        vec![
            at(0, [2, 3], [0, 0]),
            at(1, [3, 3], [0, 0]),
            at(2, [3, 3], [0, 0]),
        ],
    );
    assert_eq!(missing_at(&c, 0, 0), 1);
}

#[test]
fn fewer_packets_at_the_receiver_are_no_capture_loss() {
    // the network may have lost them: the receiver's point is never charged, and the points
    // before it saw everything they had to
    let c = conv(
        1,
        vec![
            at(0, [3, 3], [0, 0]),
            at(1, [6, 6], [3, 3]),
            at(2, [1, 3], [0, 0]),
        ],
    );
    assert_eq!((0..3).map(|i| missing_at(&c, 0, i)).sum::<u64>(), 0);
}

#[test]
fn tcp_is_charged_only_for_lone_legs() {
    // segmentation may differ between points: fewer TCP packets is no evidence; a leg
    // without its twin at a forwarder is
    let c = conv(
        6,
        vec![
            at(0, [9, 9], [0, 0]),
            at(1, [6, 9], [3, 4]),
            at(2, [9, 9], [0, 0]),
        ],
    );
    assert_eq!(missing_at(&c, 0, 1), 0);
    assert_eq!(missing_at(&c, 1, 1), 1);
}

#[test]
fn clock_statuses_name_why_not() {
    assert_eq!(ClockStatus::Estimated.why_not(), None);
    assert_eq!(
        ClockStatus::WindowsNeverOverlap.why_not(),
        Some("its capture overlaps no other point's in time")
    );
    assert_eq!(ClockStatus::NoSharedPacket.name(), "no_shared_packet");
}
