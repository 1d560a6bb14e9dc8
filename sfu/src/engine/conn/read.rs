//! What a connection reads: datagrams in (ICE checks that come before the client's
//! description kept until it does), and what rtc made of them out, as [`ConnEvent`]s.

use std::time::Instant;

use bytes::BytesMut;
use protocol::TrackKind;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::sansio::Protocol;
use rtc::shared::marshal::Unmarshal;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sfu_core::{RtpMeta, TrackId};

use super::super::demux;
use super::super::transport::{Peer, Proto};
use super::{Conn, ConnEvent, EARLY_CHECKS, Inbound, link_state};
use crate::media::CodecSpec;
use crate::media::feedback::{is_keyframe_request, nack_pairs};

impl Conn {
    /// A datagram the demux routed here, from `from`.
    pub fn read(&mut self, now: Instant, from: Peer, datagram: &[u8]) {
        if demux::is_stun(datagram) && self.pc.remote_description().is_none() {
            if self.early.len() < EARLY_CHECKS {
                self.early.push((now, from, BytesMut::from(datagram)));
            }
            return;
        }
        self.hand_over(now, from, BytesMut::from(datagram));
    }

    /// The ICE checks kept from before the client's description, now that it is here.
    pub(super) fn read_early(&mut self) {
        for (at, from, datagram) in std::mem::take(&mut self.early) {
            self.hand_over(at, from, datagram);
        }
    }

    fn hand_over(&mut self, now: Instant, from: Peer, message: BytesMut) {
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                // The TCP candidate has the same address and port as the UDP one.
                local_addr: self.local,
                peer_addr: from.addr,
                ecn: None,
                transport_protocol: match from.proto {
                    Proto::Udp => TransportProtocol::UDP,
                    Proto::Tcp => TransportProtocol::TCP,
                },
            },
            message,
        };
        if let Err(e) = self.pc.handle_read(msg) {
            tracing::debug!(error = %e, "a datagram the connection could not use");
        }
        // Only during the first handshake: a restart keeps its DTLS session.
        if matches!(
            self.state,
            RTCPeerConnectionState::New | RTCPeerConnectionState::Connecting
        ) {
            self.setting_up = Some(now);
        }
    }

    /// The next thing the connection has to tell its room. Its events come before what it
    /// read, so a track is known before its first packet.
    pub fn poll(&mut self) -> Option<ConnEvent> {
        loop {
            if let Some(event) = self.pc.poll_event() {
                if let Some(e) = self.on_event(event) {
                    return Some(e);
                }
                continue;
            }
            let Some(msg) = self.pc.poll_read() else {
                // Where we answer, we are the DTLS client (setup:active). rtc 0.21.1 starts
                // the handshake when its events reach the DTLS handler (on the binding request
                // that selected the pair, as they are polled) but leaves the ClientHello queued
                // until its next timeout: 100-200 ms of every join, waiting on an unrelated
                // timer. A timeout at the read's instant sends it; every handler checks its own
                // deadlines, so nothing else runs early. Only while the connection is set up.
                if let Some(at) = self.setting_up.take() {
                    if let Err(e) = self.pc.handle_timeout(at) {
                        tracing::debug!(error = %e, "the handshake's timers after a read");
                    }
                    continue;
                }
                return self.estimate_changed();
            };
            if let Some(e) = self.on_message(msg.message) {
                return Some(e);
            }
        }
    }

    /// The congestion controller's estimate, when it moved since the room was last told. It
    /// moves on the subscriber's feedback (several times a second), so it is read once
    /// everything else has been.
    fn estimate_changed(&mut self) -> Option<ConnEvent> {
        let estimate = self.stats.estimate()?;
        if estimate == self.estimate_told {
            return None;
        }
        self.estimate_told = estimate;
        Some(ConnEvent::Estimate { bitrate: estimate })
    }

    fn on_event(&mut self, event: RTCPeerConnectionEvent) -> Option<ConnEvent> {
        match event {
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                self.state = s;
                let state = link_state(s);
                self.stats.set_state(state);
                Some(ConnEvent::State(state))
            }
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                let layer_of = |rids: &[String]| {
                    let rid = init.rid.as_ref()?;
                    rids.iter().position(|r| r == rid).map(|i| i as u8)
                };
                if let Some(inb) = self.inbound.get_mut(&init.track_id) {
                    // Another layer of a simulcast track: its packets are read as that layer.
                    tracing::debug!(track = inb.track.0, ssrc = init.ssrc, rid = ?init.rid, "layer opened");
                    if let Some(layer) = layer_of(&inb.rids)
                        && inb.layer_of(init.ssrc).is_none()
                    {
                        inb.ssrcs.push((init.ssrc, layer));
                    }
                    return None;
                }
                let receiver = self.pc.rtp_receiver(init.receiver_id)?;
                let track = receiver.track();
                let codec = track.codec(init.ssrc)?;
                let mut rids: Vec<String> = track
                    .codings()
                    .iter()
                    .map(|c| c.rtp_coding_parameters.rid.clone())
                    .filter(|rid| !rid.is_empty())
                    .collect();
                rids.truncate(sfu_core::layers::MAX_LAYERS);
                if rids.len() < 2 {
                    rids.clear();
                }
                // A simulcast layer whose RID the offer did not list is not read.
                let layer = if rids.is_empty() {
                    Some(0)
                } else {
                    layer_of(&rids)
                };
                let spec = CodecSpec {
                    mime_type: codec.mime_type.clone(),
                    clock_rate: codec.clock_rate,
                    channels: codec.channels,
                    fmtp: codec.sdp_fmtp_line.clone(),
                };
                let msid = track.track_id().clone();
                let id = crate::next_track_id();
                self.inbound.insert(
                    msid.clone(),
                    Inbound {
                        track: id,
                        receiver: init.receiver_id,
                        ssrcs: layer.map(|l| (init.ssrc, l)).into_iter().collect(),
                        rids: rids.clone(),
                        kind: spec.kind(),
                    },
                );
                tracing::debug!(track = id.0, ssrc = init.ssrc, rid = ?init.rid, codec = ?spec, ?rids, "track opened");
                Some(ConnEvent::TrackOpened {
                    track: id,
                    msid,
                    codec: spec,
                    rids,
                })
            }
            _ => None,
        }
    }

    fn on_message(&mut self, message: RTCMessage) -> Option<ConnEvent> {
        match message {
            RTCMessage::RtpPacket(track_id, pkt) => {
                let inb = self.inbound.get(&track_id)?;
                let layer = inb.layer_of(pkt.header.ssrc)?;
                let audio_level = match (inb.kind, self.audio_level_id) {
                    (TrackKind::Audio, id @ 1..) => pkt
                        .header
                        .get_extension(id)
                        .and_then(|mut b| AudioLevelExtension::unmarshal(&mut b).ok())
                        .map(|e| e.level),
                    _ => None,
                };
                Some(ConnEvent::Rtp {
                    track: inb.track,
                    kind: inb.kind,
                    meta: RtpMeta {
                        ssrc: pkt.header.ssrc,
                        seq: pkt.header.sequence_number,
                        timestamp: pkt.header.timestamp,
                        marker: pkt.header.marker,
                        audio_level,
                        layer,
                    },
                    payload: pkt.payload,
                })
            }
            RTCMessage::RtcpPacket(track_id, packets) => {
                let track = *self.outbound_names.get(&track_id)?;
                if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                    return Some(ConnEvent::KeyframeRequest { track });
                }
                let pairs: Vec<(u16, u16)> = packets
                    .iter()
                    .filter_map(|p| nack_pairs(p.as_ref()))
                    .flatten()
                    .collect();
                (!pairs.is_empty()).then_some(ConnEvent::Nack { track, pairs })
            }
            _ => None,
        }
    }

    /// Incoming tracks whose m-section no longer receives, after a new offer: forgotten here,
    /// and returned for the room to end.
    pub fn ended_tracks(&mut self) -> Vec<TrackId> {
        let pc = &mut self.pc;
        let mut ended = Vec::new();
        self.inbound.retain(|_, i| {
            // rtc gives a receiver only while its transceiver receives.
            let receives = pc.rtp_receiver(i.receiver).is_some();
            if !receives {
                ended.push(i.track);
            }
            receives
        });
        ended
    }
}
