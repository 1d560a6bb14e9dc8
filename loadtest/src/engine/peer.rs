//! The benchmark's clients: webrtc-rs's sans-IO peer connections (`rtc`, a full ICE agent as
//! browsers are), each with one host candidate on the memory network.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sfu::CodecSpec;
use sfu::engine::memnet::MemorySocket;

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    format!("{what}: {e}").into()
}

/// One client peer connection.
pub(crate) struct Peer {
    pc: RTCPeerConnection,
    pub(crate) addr: SocketAddr,
    pub(crate) state: RTCPeerConnectionState,
    /// RTP packets read (a subscriber's media).
    pub(crate) rtp: u64,
    /// Keyframe requests read (a publisher's).
    pub(crate) keyframe_requests: u64,
}

impl Peer {
    /// A peer connection with rtc's default codecs and interceptors, and keyframe requests let
    /// through to it, reached at `addr`.
    pub(crate) fn new(addr: SocketAddr, now: Instant) -> Result<Peer, Error> {
        let mut media = MediaEngine::default();
        media
            .register_default_codecs()
            .map_err(|e| err("codecs", e))?;
        // rtc's interceptors keep inbound RTCP to themselves; a publisher must see keyframe
        // requests, as a browser does.
        let registry = register_default_interceptors(Registry::new(), &mut media)
            .map(sfu::feedback::with_application_feedback)
            .map_err(|e| err("interceptors", e))?;
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .build();
        let pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(|e| err("peer connection", e))?;
        Ok(Peer {
            pc,
            addr,
            state: RTCPeerConnectionState::New,
            rtp: 0,
            keyframe_requests: 0,
        })
    }

    /// Adds a sending track; its sender.
    pub(crate) fn add_track(
        &mut self,
        stream: &str,
        id: &str,
        codec: &CodecSpec,
        ssrc: u32,
    ) -> Result<RTCRtpSenderId, Error> {
        let track = sfu::engine::conn::sending_track(stream, id, codec, ssrc);
        self.pc.add_track(track).map_err(|e| err("track", e))
    }

    fn add_host_candidate(&mut self) -> Result<(), Error> {
        let init = sfu::engine::conn::host_candidate(self.addr)?;
        self.pc
            .add_local_candidate(init)
            .map_err(|e| err("candidate", e))
    }

    fn local_sdp(&self) -> Result<String, Error> {
        self.pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| "no local description".into())
    }

    /// The offer, its host candidate in it.
    pub(crate) fn offer(&mut self, now: Instant) -> Result<String, Error> {
        let offer = self.pc.create_offer(None).map_err(|e| err("offer", e))?;
        self.pc
            .set_local_description(now, offer)
            .map_err(|e| err("offer", e))?;
        self.add_host_candidate()?;
        self.local_sdp()
    }

    pub(crate) fn apply_answer(&mut self, sdp: String, now: Instant) -> Result<(), Error> {
        let answer = RTCSessionDescription::answer(sdp).map_err(|e| err("answer", e))?;
        self.pc
            .set_remote_description(now, answer)
            .map_err(|e| err("answer", e))
    }

    /// Applies a server's offer; the answer, with its host candidate the first time.
    pub(crate) fn answer(&mut self, sdp: String, now: Instant) -> Result<String, Error> {
        let first = self.pc.local_description().is_none();
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| err("offer", e))?;
        self.pc
            .set_remote_description(now, offer)
            .map_err(|e| err("offer", e))?;
        let answer = self.pc.create_answer(None).map_err(|e| err("answer", e))?;
        self.pc
            .set_local_description(now, answer)
            .map_err(|e| err("answer", e))?;
        if first {
            self.add_host_candidate()?;
        }
        self.local_sdp()
    }

    /// The payload type negotiated for `mime` on a sender.
    pub(crate) fn payload_type(&mut self, sender: RTCRtpSenderId, mime: &str) -> Option<u8> {
        let mut s = self.pc.rtp_sender(sender)?;
        s.get_parameters()
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
            .map(|c| c.payload_type)
    }

    /// Sends one RTP packet on a sender; whether rtc took it.
    pub(crate) fn write_rtp(
        &mut self,
        now: Instant,
        sender: RTCRtpSenderId,
        header: rtc::rtp::header::Header,
        payload: Bytes,
    ) -> bool {
        let Some(mut s) = self.pc.rtp_sender(sender) else {
            return false;
        };
        s.write_rtp(now, rtc::rtp::Packet { header, payload })
            .is_ok()
    }

    /// A datagram for it.
    pub(crate) fn read(&mut self, now: Instant, from: SocketAddr, bytes: Vec<u8>) {
        let _ = self.pc.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.addr,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(&bytes[..]),
        });
    }

    /// Runs its timers, takes its events and what it read, and queues what it writes on
    /// `socket`; whether it did anything.
    pub(crate) fn pump(&mut self, now: Instant, socket: &mut MemorySocket) -> bool {
        let mut busy = false;
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            let _ = self.pc.handle_timeout(now);
            busy = true;
        }
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = event {
                self.state = s;
            }
            busy = true;
        }
        while let Some(msg) = self.pc.poll_read() {
            match msg.message {
                RTCMessage::RtpPacket(..) => self.rtp += 1,
                RTCMessage::RtcpPacket(_, packets)
                    if packets
                        .iter()
                        .any(|p| p.as_any().is::<PictureLossIndication>()) =>
                {
                    self.keyframe_requests += 1;
                }
                _ => {}
            }
            busy = true;
        }
        while let Some(out) = self.pc.poll_write() {
            // Only to the server: it holds every address this peer ever learnt.
            let _ = socket.send_from(self.addr, out.transport.peer_addr, &out.message);
            busy = true;
        }
        busy
    }

    /// When it next wants [`Peer::pump`] for its timers.
    pub(crate) fn next_timer(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}
