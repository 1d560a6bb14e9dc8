//! Reading RTCP reception reports for link quality. webrtc-rs builds and answers reports but
//! keeps no statistics from them that we can read, so this probe sits wire-side of the report
//! interceptors and sees both the reports we send (on a publisher's uplink) and those we
//! receive (on a subscriber's downlink), plus our sender reports for round-trip times. The
//! arithmetic is `sfu_core::quality`'s; here it is only fed, and its results handed on. The same
//! stage marks keyframe requests and NACKs for the application (`feedback.rs`), and takes the
//! congestion controller's estimate off the feedback that moved it, so the server's chain has
//! one stage of ours, not three.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rtc::interceptor::{Attribute, Packet, Registry, StreamInfo, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;
use sfu_core::quality::{LinkQuality, ReportBlock};

use super::feedback::{Inspect, mark_for_application, with_inspector};
use crate::links::LinkStats;
use crate::meters::{Direction, Observer, RoomMeters};

/// Wire-side of the receiver-report (10 000) and sender-report (11 000) interceptors, so the
/// reports they write pass here, and inbound reports arrive here first.
const SLOT: usize = 9_500;

/// Where one connection's quality goes.
#[derive(Clone)]
pub(crate) struct QualityCtx {
    pub(crate) stats: Arc<LinkStats>,
    pub(crate) room: Arc<RoomMeters>,
    pub(crate) observer: Option<Arc<dyn Observer>>,
}

/// Adds the quality probe of one connection. `estimating` is where the connection's
/// congestion controller starts, when it has one.
pub(crate) fn with_quality_probe(
    registry: Registry,
    ctx: QualityCtx,
    estimating: Option<u64>,
) -> Registry {
    with_inspector(
        registry,
        SLOT,
        Probe {
            up: LinkQuality::new(),
            down: LinkQuality::new(),
            ctx,
            estimating,
        },
    )
}

struct Probe {
    /// Streams we receive, from the reports we send.
    up: LinkQuality,
    /// Streams we send, from the reports we receive.
    down: LinkQuality,
    ctx: QualityCtx,
    /// The congestion controller's starting estimate, until the first feedback reached it.
    estimating: Option<u64>,
}

fn block(r: &ReceptionReport) -> ReportBlock {
    ReportBlock {
        ssrc: r.ssrc,
        fraction_lost: r.fraction_lost,
        total_lost: r.total_lost,
        highest_seq: r.last_sequence_number,
        jitter: r.jitter,
        lsr: r.last_sender_report,
        dlsr: r.delay,
    }
}

/// The reception report blocks of a compound packet, and its sender reports' (SSRC, NTP time).
fn reports(msg: &TaggedPacket) -> (Vec<ReportBlock>, Vec<(u32, u64)>) {
    let mut blocks = Vec::new();
    let mut senders = Vec::new();
    if let Packet::Rtcp(packets) = &msg.message.packet {
        for p in packets {
            let any = p.as_any();
            if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                blocks.extend(rr.reports.iter().map(block));
            } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
                blocks.extend(sr.reports.iter().map(block));
                senders.push((sr.ssrc, sr.ntp_time));
            }
        }
    }
    (blocks, senders)
}

/// Whether an inbound compound carries transport-wide congestion feedback (TWCC).
fn is_congestion_feedback(msg: &TaggedPacket) -> bool {
    matches!(&msg.message.packet, Packet::Rtcp(packets)
        if packets.iter().any(|p| p.as_any().is::<TransportLayerCc>()))
}

impl Probe {
    fn take(&mut self, direction: Direction, blocks: &[ReportBlock], at: Instant) {
        if blocks.is_empty() {
            return;
        }
        let quality = match direction {
            Direction::Upstream => &mut self.up,
            Direction::Downstream => &mut self.down,
        };
        for b in blocks {
            let sample = quality.report(b, at);
            let room = &self.ctx.room;
            room.rtcp_expected
                .fetch_add(sample.expected, Ordering::Relaxed);
            room.rtcp_lost.fetch_add(sample.lost, Ordering::Relaxed);
            if let Some(o) = &self.ctx.observer {
                o.rtcp_report(direction, &sample);
            }
        }
        self.publish();
    }

    fn publish(&self) {
        self.ctx
            .stats
            .set_quality(self.up.summary(), self.down.summary());
    }
}

impl Inspect for Probe {
    fn read(&mut self, msg: &mut TaggedPacket) {
        // One stage for both jobs: every packet pays for each stage it crosses.
        mark_for_application(msg);
        // The congestion controller (wire-side of here, on a subscribe connection) puts a new
        // estimate on the feedback that moved it. It marks only changes, so the first
        // feedback it took without one tells that its estimate is still the start.
        if let Some(Attribute::TargetBitrateChanged { bits_per_second }) =
            msg.message.get(&Attribute::TargetBitrateChanged {
                bits_per_second: 0.0,
            })
        {
            self.estimating = None;
            self.ctx.stats.set_estimate(*bits_per_second as u64);
        } else if let Some(start) = self.estimating
            && is_congestion_feedback(msg)
        {
            self.estimating = None;
            self.ctx.stats.set_estimate(start);
        }
        let (blocks, _) = reports(msg);
        self.take(Direction::Downstream, &blocks, msg.now);
    }

    fn write(&mut self, msg: &TaggedPacket) {
        let (blocks, senders) = reports(msg);
        for (ssrc, ntp) in senders {
            self.down.sender_report_sent(ssrc, ntp, msg.now);
        }
        self.take(Direction::Upstream, &blocks, msg.now);
    }

    fn bind_local(&mut self, info: &StreamInfo) {
        self.down.bind(info.ssrc, info.clock_rate);
    }

    fn unbind_local(&mut self, info: &StreamInfo) {
        self.down.unbind(info.ssrc);
        self.publish();
    }

    fn bind_remote(&mut self, info: &StreamInfo) {
        self.up.bind(info.ssrc, info.clock_rate);
    }

    fn unbind_remote(&mut self, info: &StreamInfo) {
        self.up.unbind(info.ssrc);
        self.publish();
    }
}
