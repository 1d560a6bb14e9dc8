//! What a room is told ([`Input`]) and what it decides ([`Output`]).

use std::time::Duration;

use crate::codec::Codec;
use crate::layers::{LayerSpec, Source, View};
use crate::{MediaKind, ParticipantId, RtpMeta, RtpOut, TrackId};

/// Something that happened, handed to [`Room::handle_input`](super::Room::handle_input).
#[derive(Debug, Clone)]
pub enum Input<P> {
    /// A participant entered the room; it will be offered every track already published.
    Join(ParticipantId),
    /// A participant left; its tracks are withdrawn from everyone.
    Leave(ParticipantId),
    /// A participant published a track. A simulcast video declares its layers, lowest first
    /// (at most [`MAX_LAYERS`](crate::layers::MAX_LAYERS)); anything else declares one or none.
    Publish {
        publisher: ParticipantId,
        track: TrackId,
        codec: Codec,
        source: Source,
        layers: Vec<LayerSpec>,
    },
    /// A track ended.
    Unpublish(TrackId),
    /// The publisher muted or unmuted a track.
    SetMuted { track: TrackId, muted: bool },
    /// The owner has set up the sending side of a subscription; packets may flow, sent as `ssrc`.
    SubscriptionReady {
        subscriber: ParticipantId,
        track: TrackId,
        ssrc: u32,
    },
    /// An RTP packet from a publisher.
    Rtp {
        track: TrackId,
        meta: RtpMeta,
        payload: P,
    },
    /// A subscriber asked for a keyframe (PLI or FIR).
    KeyframeRequest {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// A subscriber reported lost packets (RTCP NACK): `(packet id, bitmask)` pairs of its
    /// outgoing sequence numbers.
    Nack {
        subscriber: ParticipantId,
        track: TrackId,
        pairs: Vec<(u16, u16)>,
    },
    /// A participant's sending path is up: at first, or again after a gap (an ICE restart, a
    /// lapse of consent) that lost what it sent. Its subscribers' video waits for a keyframe,
    /// asked of it (and asked again) until one comes.
    PublisherConnected(ParticipantId),
    /// A participant's receiving path is up, at first or again after a gap: each of its video
    /// subscriptions waits for a keyframe, asked for until one comes.
    SubscriberConnected(ParticipantId),
    /// A forwarded packet found the subscriber's queue full and was dropped.
    QueueFull {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// What a subscriber shows of its video tracks (its client reports each change of layout).
    /// A hidden track is paused for it; a small one gets a low layer. Tracks not named keep
    /// their view.
    Layout {
        subscriber: ParticipantId,
        views: Vec<(TrackId, View)>,
    },
    /// A subscriber's downlink estimate, in bits per second (from send-side bandwidth
    /// estimation on its connection).
    Estimate {
        subscriber: ParticipantId,
        bitrate: u64,
    },
    /// The time given by [`Room::poll_timeout`](super::Room::poll_timeout) has come.
    Timeout,
}

/// A decision, taken from [`Room::poll_output`](super::Room::poll_output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<P> {
    /// Send this packet to the subscriber with these header fields.
    Forward {
        subscriber: ParticipantId,
        track: TrackId,
        kind: MediaKind,
        header: RtpOut,
        marker: bool,
        payload: P,
        /// A second sending of a packet the subscriber reported lost.
        retransmission: bool,
    },
    /// Set up a subscription (a sending track toward the subscriber), then report
    /// [`Input::SubscriptionReady`].
    Subscribe {
        subscriber: ParticipantId,
        track: TrackId,
        publisher: ParticipantId,
        codec: Codec,
    },
    /// Tear down a subscription.
    Unsubscribe {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// Ask the publisher of this track for a keyframe of this layer (0 when not simulcast).
    RequestKeyframe { track: TrackId, layer: u8 },
    /// Dynacast: tell the publisher of this simulcast track which layers to encode (the others
    /// nobody receives). Indexed by layer.
    PublisherLayers { track: TrackId, active: Vec<bool> },
    /// Who is speaking now, loudest first (see [`crate::speakers`]).
    ActiveSpeakers(Vec<ParticipantId>),
    /// A participant's talk time in this room so far.
    TalkTime {
        participant: ParticipantId,
        talk: Duration,
    },
}
