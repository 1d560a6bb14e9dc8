//! What an in-memory engine run is asked to do, and what it reports.

use std::time::Duration;

/// What to measure.
#[derive(Debug, Clone)]
pub struct EngineBench {
    /// Members who publish audio and video.
    pub publishers: usize,
    /// Members who only receive.
    pub listeners: usize,
    /// Rounds measured: in each, every publisher sends one audio and one video packet.
    pub rounds: usize,
    /// Rounds sent before measuring, once everyone is connected.
    pub warmup: usize,
    pub video_bytes: usize,
    pub audio_bytes: usize,
    /// How long the clients run between one member's join and the next (0: all join at once).
    pub join_gap: Duration,
    /// Send-side bandwidth estimation on the subscribe connections, as the server runs by
    /// default but held far above any rate a run reaches (false measures the engine without
    /// it).
    pub estimation: bool,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct EngineReport {
    pub packets_sent: u64,
    /// Forwarded by the engine during the measured rounds.
    pub forwarded: u64,
    /// Read by the subscribers during the measured rounds, and how many they should have.
    pub delivered: u64,
    pub expected: u64,
    /// The engine thread's CPU time over the measured rounds.
    pub engine_cpu: Duration,
    /// This thread's (the clients') CPU time over them.
    pub clients_cpu: Duration,
    pub wall: Duration,
    /// Datagrams the engine received and sent over them, and in how many receive calls.
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub receive_calls: u64,
    pub setup: Duration,
}

impl EngineReport {
    pub fn ns_per_forwarded(&self) -> f64 {
        self.engine_cpu.as_nanos() as f64 / self.forwarded.max(1) as f64
    }

    pub fn per_core_second(&self) -> f64 {
        self.forwarded as f64 / self.engine_cpu.as_secs_f64().max(1e-9)
    }
}

/// The estimate the benchmark's subscribe connections are held at: 1 Tbit/s.
pub(super) const UNLIMITED_BPS: u64 = 1_000_000_000_000;
