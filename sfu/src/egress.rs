//! The queue between a room and one subscription's sending task.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};

use bytes::Bytes;
use sfu_core::RtpOut;
use sfu_core::queue::DropQueue;
use tokio::sync::Notify;

/// One packet on its way to a subscriber.
#[derive(Debug, Clone)]
pub struct OutPacket {
    pub header: RtpOut,
    pub marker: bool,
    pub payload: Bytes,
}

/// A bounded queue that the room pushes into without ever waiting, and the subscription's writer
/// drains. A full queue refuses the packet and counts it.
#[derive(Debug)]
pub struct Egress {
    queue: Mutex<DropQueue<OutPacket>>,
    notify: Notify,
    closed: AtomicBool,
    sent: AtomicU64,
    /// The payload type negotiated toward this subscriber; `NO_PT` until known.
    payload_type: AtomicU16,
}

const NO_PT: u16 = u16::MAX;

impl Egress {
    pub fn new(capacity: usize) -> Self {
        Egress {
            queue: Mutex::new(DropQueue::new(capacity)),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            payload_type: AtomicU16::new(NO_PT),
        }
    }

    /// Queues a packet; false when the queue was full and the packet was dropped.
    pub fn push(&self, pkt: OutPacket) -> bool {
        let ok = {
            // Invariant: nothing panics while holding this lock.
            let mut q = self.queue.lock().expect("egress lock poisoned");
            q.push(pkt).is_ok()
        };
        if ok {
            self.notify.notify_one();
        }
        ok
    }

    /// Waits for packets and moves them into `out`. Returns false once closed.
    pub async fn next_batch(&self, out: &mut Vec<OutPacket>) -> bool {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            {
                // Invariant: as in `push`.
                let mut q = self.queue.lock().expect("egress lock poisoned");
                if !q.is_empty() {
                    q.drain_into(out);
                    return true;
                }
            }
            self.notify.notified().await;
        }
    }

    /// Stops the writer; packets still queued are discarded.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn set_payload_type(&self, pt: u8) {
        self.payload_type.store(u16::from(pt), Ordering::Release);
    }

    /// The negotiated payload type, once known.
    pub fn payload_type(&self) -> Option<u8> {
        u8::try_from(self.payload_type.load(Ordering::Acquire)).ok()
    }

    pub fn record_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// (accepted, dropped, sent) so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        // Invariant: as in `push`.
        let q = self.queue.lock().expect("egress lock poisoned");
        (q.pushed(), q.dropped(), self.sent.load(Ordering::Relaxed))
    }
}
