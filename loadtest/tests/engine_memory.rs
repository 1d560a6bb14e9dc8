//! The in-memory engine benchmark (`cohort-loadtest engine`), small: the whole media server
//! (`sfu::Sfu::in_memory`, one engine thread with its room) on a network in memory, with
//! webrtc-rs's sans-IO clients. Every packet of every publisher reaches everyone else, and the
//! engine's own count of what it forwarded agrees with what the clients read. No socket is
//! opened; nothing is timed here (the figures are the benchmark's, loadtest/engine-bench.sh).

use loadtest::engine::{EngineBench, run};

#[test]
fn an_in_memory_room_forwards_every_packet_to_everyone_else() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let _entered = rt.enter();
    let cfg = EngineBench {
        publishers: 2,
        listeners: 2,
        rounds: 200,
        warmup: 20,
        video_bytes: 900,
        audio_bytes: 100,
        join_gap: std::time::Duration::ZERO,
        estimation: true,
    };
    let r = run(&cfg, rt.handle().clone()).expect("the run");
    // Each round: 2 publishers send audio and video, each packet to the 3 others.
    assert_eq!(r.packets_sent, 2 * 2 * 200, "{r:?}");
    assert_eq!(r.expected, 2 * 2 * 3 * 200, "{r:?}");
    assert_eq!(r.delivered, r.expected, "{r:?}");
    assert_eq!(r.forwarded, r.expected, "{r:?}");
    // Through the engine: every packet in, every forwarded one out (reports come on top).
    assert!(r.datagrams_in >= r.packets_sent, "{r:?}");
    assert!(r.datagrams_out >= r.forwarded, "{r:?}");
    assert!(r.receive_calls > 0 && !r.engine_cpu.is_zero(), "{r:?}");
}
