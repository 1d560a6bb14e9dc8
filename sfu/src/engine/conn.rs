//! One peer connection on an engine: webrtc-rs's sans-IO `RTCPeerConnection`, answering as an
//! ICE-lite agent with the credentials the engine chose and one host candidate, the engine's
//! advertised address. The engine feeds it the datagrams its demux routed here, and takes its
//! datagrams and timers back; nothing here touches a socket.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use crate::error::SfuError;

/// What a connection is told of its own side.
#[derive(Debug, Clone)]
pub struct Local {
    /// The address clients reach the engine at (`--public-ip` and the engine's port): the one
    /// host candidate, and the local address of everything it reads.
    pub advertised: SocketAddr,
    pub ufrag: String,
    pub pwd: String,
}

pub struct Conn {
    pc: RTCPeerConnection,
    local: SocketAddr,
    state: RTCPeerConnectionState,
}

fn rtc_err(e: impl std::fmt::Display) -> SfuError {
    SfuError::WebRtc(e.to_string())
}

impl Conn {
    /// Answers `offer`: the connection and its answer's SDP.
    pub fn answer(offer: &str, local: &Local, now: Instant) -> Result<(Conn, String), SfuError> {
        let mut media = MediaEngine::default();
        media.register_default_codecs().map_err(rtc_err)?;
        let registry =
            register_default_interceptors(Registry::new(), &mut media).map_err(rtc_err)?;
        let settings = SettingEngineBuilder::new()
            .with_lite(true)
            .with_ice_credentials(local.ufrag.clone(), local.pwd.clone())
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(rtc_err)?;
        let offer = RTCSessionDescription::offer(offer.to_owned())
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))?;
        pc.set_remote_description(now, offer)
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))?;
        let host = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: local.advertised.ip().to_string(),
                port: local.advertised.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .map_err(rtc_err)?;
        let init = RTCIceCandidate::from(&host).to_json().map_err(rtc_err)?;
        pc.add_local_candidate(init).map_err(rtc_err)?;
        let answer = pc.create_answer(None).map_err(rtc_err)?;
        pc.set_local_description(now, answer).map_err(rtc_err)?;
        let sdp = pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| SfuError::WebRtc("no local description after answering".into()))?;
        Ok((
            Conn {
                pc,
                local: local.advertised,
                state: RTCPeerConnectionState::New,
            },
            sdp,
        ))
    }

    /// A candidate the client trickled. An ICE-lite agent sends no checks, so it only tells
    /// the agent what to expect; the engine sends nowhere but to addresses that proved
    /// themselves ([`super::demux`]).
    pub fn add_remote_candidate(&mut self, candidate: &str) -> Result<(), SfuError> {
        let init = rtc::peer_connection::transport::RTCIceCandidateInit {
            candidate: candidate.to_owned(),
            sdp_mid: None,
            sdp_mline_index: Some(0),
            ..Default::default()
        };
        self.pc
            .add_remote_candidate(init)
            .map_err(|e| SfuError::InvalidCandidate(e.to_string()))
    }

    /// A datagram the demux routed here, from `from`.
    pub fn read(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.local,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(datagram),
        };
        if let Err(e) = self.pc.handle_read(msg) {
            tracing::debug!(error = %e, "a datagram the connection could not use");
        }
    }

    /// The next datagram the connection sends, and where to.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, BytesMut)> {
        self.pc
            .poll_write()
            .map(|m| (m.transport.peer_addr, m.message))
    }

    /// Takes the connection's events; its state, as they left it.
    pub fn poll_events(&mut self) -> RTCPeerConnectionState {
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = event {
                self.state = s;
            }
        }
        // What the application reads (RTP, RTCP, data channel messages) is the next step's;
        // until then it is taken and let go, so that nothing piles up.
        while self.pc.poll_read().is_some() {}
        self.state
    }

    /// When the connection next wants [`Conn::handle_timeout`].
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.pc.handle_timeout(now) {
            tracing::debug!(error = %e, "a connection's timer failed");
        }
    }

    pub fn state(&self) -> RTCPeerConnectionState {
        self.state
    }
}
