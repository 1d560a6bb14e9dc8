//! What a connection writes: forwarded packets and keyframe requests into rtc, and the datagrams
//! rtc made out, in the order they must go.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::sansio::Protocol;
use sfu_core::{RtpOut, TrackId};

use super::super::demux;
use super::super::transport::Peer;
use super::{Conn, peer_of};

/// How many packets a connection takes into rtc before it takes what they made out. Each of
/// rtc's pipeline stages queues what passes it, and its queues keep the largest size they ever
/// reached: taken out every few packets, a burst (a keyframe to many subscribers, a slow
/// turn) grows our one queue of datagrams, which shrinks again, not a dozen of rtc's.
const DRAIN_EVERY: usize = 16;
/// The queue of datagrams keeps this many slots when it empties; a burst's are given back.
const OUT_KEEP: usize = 64;

impl Conn {
    /// Sends one forwarded packet on a sending track; false when it cannot be sent (no
    /// negotiated codec yet, or rtc refused it).
    pub fn send_rtp(
        &mut self,
        now: Instant,
        track: TrackId,
        header: RtpOut,
        marker: bool,
        payload: Bytes,
    ) -> bool {
        // Before DTLS has made the keys there is nothing to send with.
        if self.state != RTCPeerConnectionState::Connected {
            return false;
        }
        let Some(out) = self.outbound.get(&track) else {
            return false;
        };
        let Some(payload_type) = out.payload_type else {
            return false;
        };
        let Some(mut sender) = self.pc.rtp_sender(out.sender) else {
            return false;
        };
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker,
                payload_type,
                sequence_number: header.seq,
                timestamp: header.timestamp,
                ssrc: header.ssrc,
                ..Default::default()
            },
            payload,
        };
        match sender.write_rtp(now, packet) {
            Ok(()) => {
                self.unflushed += 1;
                if self.unflushed >= DRAIN_EVERY {
                    self.take_writes();
                }
                true
            }
            Err(e) => {
                tracing::trace!(track = track.0, "a forwarded packet was refused: {e}");
                false
            }
        }
    }

    /// Asks the publisher of an incoming track for a keyframe.
    pub fn request_keyframe(&mut self, now: Instant, track: TrackId, layer: u8) -> bool {
        let Some(inb) = self.inbound.values().find(|i| i.track == track) else {
            return false;
        };
        // A layer not seen yet has no SSRC to ask: its first packets will be a keyframe.
        let Some(&(ssrc, _)) = inb.ssrcs.iter().find(|(_, l)| *l == layer) else {
            return false;
        };
        tracing::debug!(track = track.0, layer, ssrc, "keyframe request");
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: ssrc,
        };
        match self.pc.rtp_receiver(inb.receiver) {
            Some(mut r) => match r.write_rtcp(now, vec![Box::new(pli)]) {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(ssrc, "keyframe request not sent: {e}");
                    false
                }
            },
            None => false,
        }
    }

    /// The next datagram the connection sends, and where to.
    ///
    /// Until the connection is up, the answers to ICE checks go before anything else made in
    /// the same turn. The check that nominates the pair also starts our DTLS handshake when we
    /// are the DTLS client, and rtc writes the ClientHello ahead of the check's answer. A client
    /// drops non-STUN datagrams until that answer has selected its pair, so the ClientHello
    /// would be lost and the handshake would wait a whole DTLS retransmission (1 s).
    pub fn poll_transmit(&mut self) -> Option<(Peer, BytesMut)> {
        if self.state == RTCPeerConnectionState::Connected && self.out.is_empty() {
            self.unflushed = 0;
            if self.out.capacity() > OUT_KEEP {
                self.out.shrink_to(OUT_KEEP);
            }
            return self
                .pc
                .poll_write()
                .map(|m| (peer_of(&m.transport), m.message));
        }
        if self.out.is_empty() {
            self.take_writes();
            self.out
                .make_contiguous()
                .sort_by_key(|(_, d)| !demux::is_stun(d));
        }
        self.out.pop_front()
    }

    /// Takes everything rtc has written so far into our own queue, in order.
    fn take_writes(&mut self) {
        while let Some(m) = self.pc.poll_write() {
            self.out.push_back((peer_of(&m.transport), m.message));
        }
        self.unflushed = 0;
    }
}
