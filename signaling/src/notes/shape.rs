//! The shape of a client's update (yjs v1), read block by block before yrs applies it.
//!
//! yrs trusts an update's structure while it integrates it, and hostile structures made yrs
//! 0.28.1 read freed memory (found by fuzzing under AddressSanitizer). Every such finding needed
//! a shape that a client that synced with the server never sends:
//! - blocks the document already has: yrs cuts them out before integrating the rest, and new
//!   blocks pointing at the cut ones were read after they were freed;
//! - skip blocks (holes): yrs keeps them in the document, and a later update cut at a hole's
//!   edge was read after it was freed; a hole at a client's start made the state undecodable;
//! - one client's blocks in two runs, so that its blocks are no longer in clock order.
//!
//! A client that synced sends, for each client it has news of, one run of blocks starting
//! exactly where the server's document ends for that client (yjs encodes a diff against the
//! server's state vector that way, and a local edit continues the client's own run). So that is
//! what is allowed; anything else is refused before yrs reads the update.

use std::collections::HashSet;

use yrs::StateVector;
use yrs::block::{
    BLOCK_GC_REF_NUMBER, BLOCK_SKIP_REF_NUMBER, ClientID, HAS_ORIGIN, HAS_PARENT_SUB,
    HAS_RIGHT_ORIGIN, ItemContent,
};
use yrs::encoding::read::Read;
use yrs::updates::decoder::{Decoder, DecoderV1};

/// Why an update's shape is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// It cannot be read as a v1 update's blocks.
    Unreadable,
    /// It declares more clients or blocks than it has bytes for (yrs reserves room for what an
    /// update declares before reading it).
    Oversized,
    /// A client's blocks in more than one run.
    ClientTwice,
    /// A skip block: a hole in a client's run.
    Hole,
    /// A run starting before the document's end for that client: edits the document has.
    Repeats,
    /// A run starting after the document's end for that client: edits the server lacks.
    Gap,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unreadable | Self::Oversized | Self::ClientTwice | Self::Hole => {
                "an update that cannot be read"
            }
            Self::Repeats => "an update that repeats edits the document has",
            Self::Gap => "an update that builds on edits the server does not have",
        }
    }
}

/// Checks the blocks of the v1 update `u` against the document's state vector `known` (with
/// `None`, only that they can be read, fit and have no holes). The delete set after the blocks
/// is left to yrs (it frees nothing it reads).
pub fn check(u: &[u8], known: Option<&StateVector>) -> Result<(), Refused> {
    // yrs panics on some hostile values while reading (a client id over 53 bits); reading
    // touches nothing, so a panic only refuses the update.
    std::panic::catch_unwind(|| walk(u, known)).unwrap_or(Err(Refused::Unreadable))
}

fn walk(u: &[u8], known: Option<&StateVector>) -> Result<(), Refused> {
    // Every client and every block takes a byte at least: what all of them declare together
    // must fit in the update's bytes.
    let mut budget = u.len();
    let mut spend = |n: u32| match usize::try_from(n) {
        Ok(n) if n <= budget => {
            budget -= n;
            Ok(())
        }
        _ => Err(Refused::Oversized),
    };
    let mut d = DecoderV1::from(u);
    let clients: u32 = d.read_var().map_err(|_| Refused::Unreadable)?;
    spend(clients)?;
    let mut seen: HashSet<ClientID> = HashSet::new();
    for _ in 0..clients {
        let blocks: u32 = d.read_var().map_err(|_| Refused::Unreadable)?;
        spend(blocks)?;
        let client = d.read_client().map_err(|_| Refused::Unreadable)?;
        let clock: u32 = d.read_var().map_err(|_| Refused::Unreadable)?;
        if !seen.insert(client) {
            return Err(Refused::ClientTwice);
        }
        if let Some(known) = known.filter(|_| blocks > 0) {
            let end = known.get(&client);
            if clock < end {
                return Err(Refused::Repeats);
            }
            if clock > end {
                return Err(Refused::Gap);
            }
        }
        for _ in 0..blocks {
            block(&mut d)?;
        }
    }
    Ok(())
}

/// Reads one block as yrs' `Update::decode_block` does, refusing a skip block.
fn block(d: &mut DecoderV1) -> Result<(), Refused> {
    let bad = |_| Refused::Unreadable;
    match d.read_info().map_err(bad)? {
        BLOCK_SKIP_REF_NUMBER => Err(Refused::Hole),
        BLOCK_GC_REF_NUMBER => d.read_len().map(drop).map_err(bad),
        info => {
            let no_origin = info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0;
            if info & HAS_ORIGIN != 0 {
                d.read_left_id().map_err(bad)?;
            }
            if info & HAS_RIGHT_ORIGIN != 0 {
                d.read_right_id().map_err(bad)?;
            }
            if no_origin {
                if d.read_parent_info().map_err(bad)? {
                    d.read_string().map_err(bad)?;
                } else {
                    d.read_left_id().map_err(bad)?;
                }
                if info & HAS_PARENT_SUB != 0 {
                    d.read_string().map_err(bad)?;
                }
            }
            ItemContent::decode(d, info).map(drop).map_err(bad)
        }
    }
}

#[cfg(test)]
mod tests;
