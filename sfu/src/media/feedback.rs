//! Letting keyframe requests (PLI, FIR) and loss reports (NACK) through to the application.
//!
//! webrtc-rs's interceptors consume inbound RTCP; only packets an interceptor marks with
//! `DeliverToApplication` reach a track's event stream. An SFU must see keyframe requests (from
//! subscribers, to relay upstream) and NACKs (answered by `sfu-core` from each subscription's
//! history); a publisher must see keyframe requests (to send a keyframe).
//! [`mark_for_application`] marks the compounds that carry one and changes nothing else, so every
//! later interceptor still sees every report; the server does it in its quality probe's stage
//! (`quality.rs`), the test client in a stage of its own ([`with_application_feedback`]).
//! `with_rtcp_inspector` is the general form (the test client counts sender and receiver reports
//! with it).

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// After every built-in interceptor.
const SLOT: usize = 14_000;

/// Adds the feedback forwarder, as a stage of its own, to an interceptor registry.
pub fn with_application_feedback(registry: Registry) -> Registry {
    with_rtcp_inspector(registry, SLOT, mark_for_application)
}

/// Marks an inbound compound that carries a keyframe request or a NACK for the application,
/// which picks out what it wants; everything goes on unchanged, so the interceptors after this
/// still see every report.
pub fn mark_for_application(msg: &mut TaggedPacket) {
    if let Packet::Rtcp(packets) = &msg.message.packet
        && packets.iter().any(|p| for_application(p.as_ref()))
    {
        msg.message.add(Attribute::DeliverToApplication);
    }
}

/// Adds an interceptor at `slot` that shows `inspect` every inbound packet (to count or mark it)
/// and passes everything on, in both directions, unchanged otherwise.
pub fn with_rtcp_inspector<F>(registry: Registry, slot: usize, inspect: F) -> Registry
where
    F: FnMut(&mut TaggedPacket) + Send + Sync + 'static,
{
    with_inspector(registry, slot, ReadFn(inspect))
}

/// What an [`Inspector`] does with the packets and streams passing its slot. Every packet goes
/// on unchanged (but for attributes a reader may add).
pub(crate) trait Inspect: Send + Sync + 'static {
    /// An inbound packet, from the wire toward the application.
    fn read(&mut self, msg: &mut TaggedPacket);
    /// An outbound packet, including the reports the interceptors nearer the application made.
    fn write(&mut self, _msg: &TaggedPacket) {}
    /// A stream we send, or one we receive, starts or stops.
    fn bind_local(&mut self, _info: &StreamInfo) {}
    fn unbind_local(&mut self, _info: &StreamInfo) {}
    fn bind_remote(&mut self, _info: &StreamInfo) {}
    fn unbind_remote(&mut self, _info: &StreamInfo) {}
}

struct ReadFn<F>(F);

impl<F: FnMut(&mut TaggedPacket) + Send + Sync + 'static> Inspect for ReadFn<F> {
    fn read(&mut self, msg: &mut TaggedPacket) {
        (self.0)(msg)
    }
}

/// Adds an interceptor at `slot` that shows `inspect` everything passing it.
pub(crate) fn with_inspector<I: Inspect>(registry: Registry, slot: usize, inspect: I) -> Registry {
    registry.with(
        Slot::from(slot),
        Inspector {
            inspect,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        },
    )
}

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// The (packet id, bitmask) pairs of a NACK, if the packet is one.
pub fn nack_pairs(packet: &dyn rtc::rtcp::Packet) -> Option<Vec<(u16, u16)>> {
    let nack = packet.as_any().downcast_ref::<TransportLayerNack>()?;
    Some(
        nack.nacks
            .iter()
            .map(|p| (p.packet_id, p.lost_packets))
            .collect(),
    )
}

fn for_application(packet: &dyn rtc::rtcp::Packet) -> bool {
    is_keyframe_request(packet) || packet.as_any().is::<TransportLayerNack>()
}

struct Inspector<I> {
    inspect: I,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl<I: Inspect> Protocol<TaggedPacket, TaggedPacket, ()> for Inspector<I> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        self.inspect.read(&mut msg);
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.inspect.write(&msg);
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl<I: Inspect> Interceptor for Inspector<I> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.inspect.bind_local(info);
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.inspect.unbind_local(info);
    }
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.inspect.bind_remote(info);
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.inspect.unbind_remote(info);
    }
}
