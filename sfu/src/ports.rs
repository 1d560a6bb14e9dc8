//! The UDP port range media sockets are bound from.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::error::{Result, SfuError};

/// Hands out ports from an inclusive range, one per peer connection, and takes them back when
/// the [`PortLease`] drops.
#[derive(Debug)]
pub struct PortAllocator {
    first: u16,
    last: u16,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    taken: BTreeSet<u16>,
    /// Where the next search starts, so that a just-freed port is not reused at once.
    cursor: u16,
}

impl PortAllocator {
    pub fn new(first: u16, last: u16) -> Arc<Self> {
        let (first, last) = if first <= last {
            (first, last)
        } else {
            (last, first)
        };
        Arc::new(PortAllocator {
            first,
            last,
            state: Mutex::new(State {
                taken: BTreeSet::new(),
                cursor: first,
            }),
        })
    }

    /// Takes a free port, or fails when every port of the range is leased.
    pub fn lease(self: &Arc<Self>) -> Result<PortLease> {
        self.lease_where(|_| true)
    }

    /// Takes a free port that `usable` accepts (one that another process holds is skipped, and
    /// tried again next time), or fails when there is none.
    pub fn lease_where(self: &Arc<Self>, usable: impl Fn(u16) -> bool) -> Result<PortLease> {
        // Invariant: no code panics while holding this lock, so it is never poisoned.
        let mut st = self.state.lock().expect("port allocator lock poisoned");
        let size = u32::from(self.last - self.first) + 1;
        for i in 0..size {
            let offset = (u32::from(st.cursor - self.first) + i) % size;
            let port = self.first + offset as u16;
            if !st.taken.contains(&port) && usable(port) && st.taken.insert(port) {
                st.cursor = if port == self.last {
                    self.first
                } else {
                    port + 1
                };
                return Ok(PortLease {
                    port,
                    owner: Arc::clone(self),
                });
            }
        }
        Err(SfuError::PortsExhausted(format!(
            "{}-{}",
            self.first, self.last
        )))
    }

    /// Ports leased now.
    pub fn in_use(&self) -> usize {
        // Invariant: as in `lease`.
        self.state
            .lock()
            .expect("port allocator lock poisoned")
            .taken
            .len()
    }

    fn release(&self, port: u16) {
        // Invariant: as in `lease`.
        self.state
            .lock()
            .expect("port allocator lock poisoned")
            .taken
            .remove(&port);
    }
}

/// One leased port; returned to the range on drop.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    owner: Arc<PortAllocator>,
}

impl PortLease {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.owner.release(self.port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_every_port_once_then_fails_clearly() {
        let a = PortAllocator::new(40000, 40002);
        let l1 = a.lease().unwrap();
        let l2 = a.lease().unwrap();
        let l3 = a.lease().unwrap();
        let mut ports = vec![l1.port(), l2.port(), l3.port()];
        ports.sort();
        assert_eq!(ports, vec![40000, 40001, 40002]);
        let err = a.lease().unwrap_err();
        assert!(err.to_string().contains("40000-40002"), "{err}");
        drop(l2);
        assert_eq!(a.in_use(), 2);
        assert_eq!(a.lease().unwrap().port(), 40001);
    }

    #[test]
    fn ports_another_process_holds_are_skipped() {
        let a = PortAllocator::new(2000, 2003);
        let held = [2000u16, 2001];
        let l = a.lease_where(|p| !held.contains(&p)).unwrap();
        assert_eq!(l.port(), 2002);
        assert_eq!(a.lease_where(|p| !held.contains(&p)).unwrap().port(), 2003);
        // Skipped ports are not marked taken: once free, they are handed out.
        assert_eq!(a.lease().unwrap().port(), 2000);
        let none = PortAllocator::new(2000, 2001);
        assert!(none.lease_where(|_| false).is_err());
    }

    #[test]
    fn a_freed_port_is_not_reused_first() {
        let a = PortAllocator::new(1000, 1009);
        let l = a.lease().unwrap();
        let p = l.port();
        drop(l);
        assert_ne!(a.lease().unwrap().port(), p);
    }
}
