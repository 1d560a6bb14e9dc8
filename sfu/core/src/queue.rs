//! A bounded queue that drops and counts rather than blocking its producer.

use std::collections::VecDeque;

/// Bounded FIFO. A push onto a full queue is refused and counted, so that one slow consumer never
/// holds up the producer (the room) or anyone else the producer serves.
#[derive(Debug)]
pub struct DropQueue<T> {
    items: VecDeque<T>,
    capacity: usize,
    pushed: u64,
    dropped: u64,
}

impl<T> DropQueue<T> {
    /// A queue holding at most `capacity` items (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        DropQueue {
            items: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            pushed: 0,
            dropped: 0,
        }
    }

    /// Enqueues `item`, or hands it back (and counts the drop) when the queue is full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.items.len() >= self.capacity {
            self.dropped += 1;
            return Err(item);
        }
        self.pushed += 1;
        self.items.push_back(item);
        Ok(())
    }

    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// Moves everything queued into `out`, oldest first.
    pub fn drain_into(&mut self, out: &mut Vec<T>) {
        out.extend(self.items.drain(..));
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items accepted so far.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Items refused because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts() {
        let mut q = DropQueue::new(3);
        for i in 0..5 {
            let r = q.push(i);
            assert_eq!(r.is_ok(), i < 3, "push {i}");
        }
        assert_eq!(q.len(), 3);
        assert_eq!(q.pushed(), 3);
        assert_eq!(q.dropped(), 2);
        // The oldest items survive in order.
        assert_eq!(q.pop(), Some(0));
        assert!(q.push(9).is_ok());
        let mut out = Vec::new();
        q.drain_into(&mut out);
        assert_eq!(out, vec![1, 2, 9]);
        assert!(q.is_empty());
    }

    #[test]
    fn zero_capacity_means_one() {
        let mut q = DropQueue::new(0);
        assert!(q.push(1).is_ok());
        assert!(q.push(2).is_err());
        assert_eq!(q.capacity(), 1);
    }
}
