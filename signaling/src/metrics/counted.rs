//! A histogram family whose buckets were counted elsewhere: the rooms count their subscribers'
//! estimates in plain atomics (`sfu::meters::RoomMeters::estimate_buckets`), and a scrape turns
//! those counts into Prometheus histograms, one per room label, like the other per-room series.

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Bucket, Histogram, LabelPair, Metric, MetricFamily, MetricType};

/// One histogram per row of label values: per bucket counts (not cumulative), the last bucket
/// counting what is above every bound, and the sum of what was counted.
pub(super) struct CountedHistogram {
    desc: Desc,
    labels: Vec<String>,
    bounds: Vec<f64>,
    rows: Vec<(Vec<String>, Vec<u64>, f64)>,
}

impl CountedHistogram {
    pub(super) fn new(name: &str, help: &str, labels: &[&str], bounds: &[f64]) -> Self {
        let labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        CountedHistogram {
            desc: Desc::new(
                name.to_owned(),
                help.to_owned(),
                labels.clone(),
                Default::default(),
            )
            .expect("static metric options are valid"),
            labels,
            bounds: bounds.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds one histogram: `counts` has one entry per bound and one more, above them all.
    pub(super) fn row(mut self, values: &[&str], counts: &[u64], sum: f64) -> Self {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.rows.push((values, counts.to_vec(), sum));
        self
    }
}

impl Collector for CountedHistogram {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let metrics = self
            .rows
            .iter()
            .map(|(values, counts, sum)| {
                let pairs = self
                    .labels
                    .iter()
                    .zip(values)
                    .map(|(name, value)| {
                        let mut p = LabelPair::default();
                        p.set_name(name.clone());
                        p.set_value(value.clone());
                        p
                    })
                    .collect();
                let mut cumulative = 0;
                let buckets = self
                    .bounds
                    .iter()
                    .zip(counts)
                    .map(|(bound, count)| {
                        cumulative += count;
                        let mut b = Bucket::default();
                        b.set_upper_bound(*bound);
                        b.set_cumulative_count(cumulative);
                        b
                    })
                    .collect();
                let mut h = Histogram::default();
                h.set_bucket(buckets);
                h.set_sample_count(counts.iter().sum());
                h.set_sample_sum(*sum);
                let mut m = Metric::from_label(pairs);
                m.set_histogram(h);
                m
            })
            .collect();
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::HISTOGRAM);
        family.set_metric(metrics);
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, TextEncoder};

    #[test]
    fn counts_become_cumulative_buckets_per_room() {
        let h = CountedHistogram::new("x_bits", "Test.", &["room"], &[1.0, 2.0])
            .row(&["a"], &[1, 2, 3], 10.0)
            .row(&["b"], &[0, 0, 1], 5.0);
        let mut out = Vec::new();
        TextEncoder::new().encode(&h.collect(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("# TYPE x_bits histogram"), "{text}");
        assert!(
            text.contains("x_bits_bucket{room=\"a\",le=\"1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("x_bits_bucket{room=\"a\",le=\"2\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("x_bits_bucket{room=\"a\",le=\"+Inf\"} 6"),
            "{text}"
        );
        assert!(text.contains("x_bits_count{room=\"a\"} 6"), "{text}");
        assert!(text.contains("x_bits_sum{room=\"b\"} 5"), "{text}");
        assert!(
            text.contains("x_bits_bucket{room=\"b\",le=\"2\"} 0"),
            "{text}"
        );
    }
}
