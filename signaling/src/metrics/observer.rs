//! Where the SFU's timings and RTCP reports land: histograms and counters observed as things
//! happen (the SFU itself knows no metrics library).

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts};
use sfu::meters::{Direction, Observer, Sample};

/// Seconds, for the join histograms.
const JOIN_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0,
];

#[derive(Clone)]
pub(super) struct Timings {
    join_seconds: Histogram,
    first_video_seconds: Histogram,
    loss: HistogramVec,
    jitter: HistogramVec,
    rtt: Histogram,
    lost: IntCounterVec,
    expected: IntCounterVec,
}

const DIRECTION: &[&str] = &["direction"];

fn histogram_vec(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("static metric options are valid") // fixed, well-formed names and buckets
}

fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("static metric options are valid") // fixed, well-formed names and buckets
}

fn counter_vec(name: &str, help: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), DIRECTION).expect("static metric options are valid")
}

impl Timings {
    pub(super) fn new() -> Timings {
        let join_seconds = histogram(
            "cohort_join_duration_seconds",
            "From a join request (or, in an empty room, from the first track) to the first media packet forwarded to the participant.",
            &JOIN_BUCKETS,
        );
        let first_video_seconds = histogram(
            "cohort_join_first_video_seconds",
            "From a join request (or, in an empty room, from the first video track) to the first video packet forwarded to the participant: the first picture, which waits for a keyframe.",
            &JOIN_BUCKETS,
        );
        let rtt = histogram(
            "cohort_rtcp_rtt_seconds",
            "Round-trip time to subscribers, from their RTCP receiver reports (LSR/DLSR).",
            &[
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0,
            ],
        );
        Timings {
            join_seconds,
            first_video_seconds,
            loss: histogram_vec(
                "cohort_rtcp_loss_fraction",
                "Fraction of packets lost per RTCP report interval (0 to 1), by direction: upstream is publisher to server (reports the server sends), downstream is server to subscriber (reports subscribers send).",
                &[0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
                DIRECTION,
            ),
            jitter: histogram_vec(
                "cohort_rtcp_jitter_seconds",
                "Interarrival jitter from RTCP reports, by direction.",
                &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5],
                DIRECTION,
            ),
            rtt,
            lost: counter_vec(
                "cohort_rtcp_packets_lost_total",
                "Packets lost according to RTCP reports, by direction.",
            ),
            expected: counter_vec(
                "cohort_rtcp_packets_expected_total",
                "Packets expected according to RTCP reports, by direction; loss ratio = rate(lost) / rate(expected).",
            ),
        }
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.join_seconds.clone()),
            Box::new(self.first_video_seconds.clone()),
            Box::new(self.loss.clone()),
            Box::new(self.jitter.clone()),
            Box::new(self.rtt.clone()),
            Box::new(self.lost.clone()),
            Box::new(self.expected.clone()),
        ]
    }
}

impl Observer for Timings {
    fn join_to_first_media(&self, took: Duration) {
        self.join_seconds.observe(took.as_secs_f64());
    }

    fn join_to_first_video(&self, took: Duration) {
        self.first_video_seconds.observe(took.as_secs_f64());
    }

    fn rtcp_report(&self, direction: Direction, sample: &Sample) {
        let d = [direction.as_str()];
        self.loss
            .with_label_values(&d)
            .observe(sample.loss_fraction);
        self.jitter
            .with_label_values(&d)
            .observe(sample.jitter.as_secs_f64());
        if let Some(rtt) = sample.rtt {
            self.rtt.observe(rtt.as_secs_f64());
        }
        self.lost.with_label_values(&d).inc_by(sample.lost);
        self.expected.with_label_values(&d).inc_by(sample.expected);
    }
}
