//! `cohort-loadtest churn`: the soak ([`loadtest::churn`]), as `loadtest/soak.sh` runs it.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use loadtest::churn::{self, Churn};

/// Participants joining and leaving a Cohort server for a long time; its resident memory and
/// open file descriptors are sampled throughout, and their growth after the warm-up printed.
#[derive(Debug, Parser)]
#[command(name = "cohort-loadtest churn")]
pub struct ChurnArgs {
    #[arg(long, default_value = "ws://127.0.0.1:8080/api/v1/rtc")]
    url: String,
    #[arg(long, default_value = "127.0.0.1")]
    udp_ip: IpAddr,
    #[arg(long, default_value_t = 4)]
    rooms: usize,
    /// Seats, each filled by one participant after another.
    #[arg(long, default_value_t = 16)]
    seats: usize,
    #[arg(long, default_value_t = 3600)]
    seconds: u64,
    /// Shortest and longest stay of one participant, seconds.
    #[arg(long, default_value_t = 5)]
    stay_min: u64,
    #[arg(long, default_value_t = 30)]
    stay_max: u64,
    #[arg(long, default_value_t = 30)]
    sample_seconds: u64,
    /// The share of the run that is warm-up.
    #[arg(long, default_value_t = 0.1)]
    warm_up: f64,
    /// The server's PID.
    #[arg(long)]
    server_pid: u32,
    /// Also print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn churn(a: ChurnArgs) -> ExitCode {
    let c = Churn {
        url: a.url,
        udp_ip: a.udp_ip,
        rooms: a.rooms.clamp(1, 100),
        seats: a.seats.clamp(1, 500),
        duration: Duration::from_secs(a.seconds.clamp(10, 4 * 3600)),
        stay: (
            Duration::from_secs(a.stay_min.max(1)),
            Duration::from_secs(a.stay_max.max(a.stay_min.max(1))),
        ),
        sample_every: Duration::from_secs(a.sample_seconds.clamp(1, 600)),
        warm_up: a.warm_up,
        server_pid: a.server_pid,
        room_prefix: "churn".to_owned(),
    };
    let limit = c.duration + Duration::from_secs(120);
    crate::bounded("churn", limit, a.json, churn::run(&c)).await
}
