//! Command-line flags, each also readable from an environment variable.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use sfu::SfuConfig;

use crate::Settings;
use crate::ratelimit::Rate;
use crate::serve::ConnLimits;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Cohort: weekly meeting rooms for learning communities, in one binary.
#[derive(Debug, Clone, Parser)]
#[command(name = "cohort", version, about)]
pub struct Cli {
    /// Address and port of the HTTP and WebSocket listener.
    #[arg(long, env = "COHORT_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// UDP port of media engine 0; engine `i` listens on this port + `i`. Every participant's
    /// media uses one of these ports, so a firewall opens `--engines` ports from here.
    #[arg(long, env = "COHORT_UDP_PORT", default_value_t = 7882)]
    pub udp_port: u16,
    /// Address the media engines' UDP sockets bind to. Defaults to the HTTP listener's address;
    /// behind a reverse proxy that is loopback, so set this to the interface clients reach.
    #[arg(long, env = "COHORT_MEDIA_IP")]
    pub media_ip: Option<IpAddr>,
    /// Media engines: one thread and one UDP port each. 0 means one per core.
    #[arg(long, env = "COHORT_ENGINES", default_value_t = 0)]
    pub engines: usize,
    /// Whether each engine also takes ICE-TCP connections on its port number over TCP, for
    /// participants whose network blocks UDP (`--ice-tcp false` turns it off).
    #[arg(long, env = "COHORT_ICE_TCP", default_value_t = true, action = clap::ArgAction::Set)]
    pub ice_tcp: bool,
    /// Whether the web client sends cameras as simulcast (three layers; each subscriber gets
    /// the one its tile and link call for). Off by default for now: after a renegotiation of
    /// the publish connection (an ICE restart, a screen share starting), rtc 0.21.1 forgets
    /// which SSRC carries which layer and the camera's video stops.
    #[arg(long, env = "COHORT_SIMULCAST", default_value_t = false, action = clap::ArgAction::Set)]
    pub simulcast: bool,
    /// Whether the server estimates each subscriber's downlink (TWCC feedback into GCC) and
    /// fits what it sends into the estimate: lower layers, and at worst no video for the
    /// least important tiles, on a congested link (`--bandwidth-estimation false` turns it off).
    #[arg(long, env = "COHORT_BANDWIDTH_ESTIMATION", default_value_t = true, action = clap::ArgAction::Set)]
    pub bandwidth_estimation: bool,
    /// Whether publishers are told to stop encoding simulcast layers that nobody receives
    /// (dynacast, `set_encodings`); `--dynacast false` keeps every layer encoded.
    #[arg(long, env = "COHORT_DYNACAST", default_value_t = true, action = clap::ArgAction::Set)]
    pub dynacast: bool,
    /// Address advertised in ICE candidates. Defaults to the address the media engines bind
    /// (`--media-ip`, else the HTTP listener's: 127.0.0.1 when bound to loopback).
    #[arg(long, env = "COHORT_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,
    /// Log level or filter (for example `info` or `sfu=debug,info`).
    #[arg(long, env = "COHORT_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log format.
    #[arg(long, env = "COHORT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Seconds a shutdown waits for participants to leave before it ends anyway (0 = none).
    #[arg(long, env = "COHORT_DRAIN_SECONDS", default_value_t = 10)]
    pub drain_seconds: u64,
    /// Most participants in one room.
    #[arg(long, env = "COHORT_MAX_PARTICIPANTS", default_value_t = 50, value_parser = positive::<usize>)]
    pub max_participants: usize,
    /// Most rooms open at once.
    #[arg(long, env = "COHORT_MAX_ROOMS", default_value_t = 200, value_parser = positive::<usize>)]
    pub max_rooms: usize,
    /// Most tracks one participant publishes.
    #[arg(long, env = "COHORT_MAX_TRACKS", default_value_t = 4, value_parser = positive::<usize>)]
    pub max_tracks: usize,
    /// Largest WebSocket message accepted, in bytes; larger ones close the connection (1009).
    #[arg(long, env = "COHORT_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024, value_parser = positive::<usize>)]
    pub max_message_bytes: usize,
    /// Signaling messages per second one connection may send (bursts of twice this pass).
    #[arg(long, env = "COHORT_MESSAGE_RATE", default_value_t = 50, value_parser = positive::<u32>)]
    pub message_rate: u32,
    /// Chat messages a minute one person may post in a room, from all their tabs together;
    /// 0 for no limit.
    #[arg(long, env = "COHORT_CHAT_RATE", default_value_t = 30)]
    pub chat_rate: u32,
    /// Chat messages one person may post in a burst before `--chat-rate` applies.
    #[arg(long, env = "COHORT_CHAT_BURST", default_value_t = 10, value_parser = positive::<u32>)]
    pub chat_burst: u32,
    /// Where uploaded files are kept [default: beside an SQLite database, `<name>-files`;
    /// `cohort-files` in the working directory for PostgreSQL].
    #[arg(long, env = "COHORT_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Largest file one upload may be, in megabytes (10^6 bytes).
    #[arg(long, env = "COHORT_UPLOAD_MAX_MB", default_value_t = 25, value_parser = positive::<u64>)]
    pub upload_max_mb: u64,
    /// Uploads one room may hold in all, in megabytes.
    #[arg(long, env = "COHORT_ROOM_QUOTA_MB", default_value_t = 500, value_parser = positive::<u64>)]
    pub room_quota_mb: u64,
    /// Uploads the whole server may hold, in megabytes.
    #[arg(long, env = "COHORT_STORAGE_QUOTA_MB", default_value_t = 20_000, value_parser = positive::<u64>)]
    pub storage_quota_mb: u64,
    /// Largest frame a shared-notes connection may send, in KiB.
    #[arg(long, env = "COHORT_NOTES_FRAME_KB", default_value_t = 256, value_parser = positive::<usize>)]
    pub notes_frame_kb: usize,
    /// Largest a shared-notes document may grow, in KiB of its encoded state.
    #[arg(long, env = "COHORT_NOTES_DOC_KB", default_value_t = 4096, value_parser = positive::<usize>)]
    pub notes_doc_kb: usize,
    /// Edits a second one notes connection may send (in bursts of twice as many).
    #[arg(long, env = "COHORT_NOTES_UPDATE_RATE", default_value_t = 30, value_parser = positive::<u32>)]
    pub notes_update_rate: u32,
    /// Connections one notes document holds at once.
    #[arg(long, env = "COHORT_NOTES_CONNECTIONS", default_value_t = 100, value_parser = positive::<usize>)]
    pub notes_connections: usize,
    /// How often, in seconds, the notes of meetings that ended are kept (their minutes and the
    /// room's notes as they were), for the Meetings tab and the export.
    #[arg(long, env = "COHORT_NOTES_HISTORY_SECONDS", default_value_t = 60, value_parser = positive::<u64>)]
    pub notes_history_seconds: u64,
    /// Database: an SQLite file, created on first run (`sqlite://cohort.db`), or PostgreSQL
    /// (`postgres://user:password@127.0.0.1/cohort`).
    #[arg(long, env = "COHORT_DB", default_value = "sqlite://cohort.db")]
    pub db: String,
    /// An admin API key to accept, at least 24 characters. Without one, the first run makes an
    /// admin key and prints it once.
    #[arg(long, env = "COHORT_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// The address people use to reach this server, for join links (for example
    /// `https://meet.example.org`). Defaults to http:// and the HTTP listener's address.
    #[arg(long, env = "COHORT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Lets anyone with a link use any room name, without an invite, for rooms never created
    /// through the API (as Jitsi does). Rooms that were created still need their invites.
    #[arg(long, env = "COHORT_OPEN_ROOMS")]
    pub open_rooms: bool,
    /// Do not create the demo room "try-cohort" or print its invite link at start.
    #[arg(long, env = "COHORT_NO_DEMO")]
    pub no_demo: bool,
    /// API requests a minute from one address (0 = no limit); more get 429 with Retry-After.
    #[arg(long, env = "COHORT_API_RATE", default_value_t = 600)]
    pub api_rate: u32,
    /// API requests one address may make in a burst.
    #[arg(long, env = "COHORT_API_BURST", default_value_t = 60, value_parser = positive::<u32>)]
    pub api_burst: u32,
    /// Signaling connections (joins) a minute from one address (0 = no limit).
    #[arg(long, env = "COHORT_JOIN_RATE", default_value_t = 60)]
    pub join_rate: u32,
    /// Joins one address may make in a burst (a classroom behind one NAT joins at once).
    #[arg(long, env = "COHORT_JOIN_BURST", default_value_t = 40, value_parser = positive::<u32>)]
    pub join_burst: u32,
    /// Serve `/metrics` on this address only (for example 127.0.0.1:9100), not on --http.
    #[arg(long, env = "COHORT_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// A bearer token that `/metrics` asks for (`Authorization: Bearer <token>`).
    #[arg(long, env = "COHORT_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Rooms with series of their own in `/metrics`, the busiest first; the rest are summed
    /// under `room="_other"` (0 = every room summed there).
    #[arg(long, env = "COHORT_METRICS_ROOM_CAP", default_value_t = 100)]
    pub metrics_room_cap: usize,
    /// Seconds a client has to send a whole request head; also how long an idle keep-alive
    /// connection is kept.
    #[arg(long, env = "COHORT_HEADER_TIMEOUT_SECONDS", default_value_t = 10, value_parser = positive::<u64>)]
    pub header_timeout_seconds: u64,
    /// Open HTTP and WebSocket connections at once; lowered at start to fit the open-file limit.
    #[arg(long, env = "COHORT_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = positive::<usize>)]
    pub max_connections: usize,
    /// Open connections from one IP address (a class behind one NAT needs a few per person).
    #[arg(long, env = "COHORT_MAX_CONNECTIONS_PER_IP", default_value_t = 256, value_parser = positive::<usize>)]
    pub max_connections_per_ip: usize,
    /// Seconds a signaling connection has to send `join`; after that it is closed (1008).
    #[arg(long, env = "COHORT_JOIN_TIMEOUT_SECONDS", default_value_t = 30, value_parser = positive::<u64>)]
    pub join_timeout_seconds: u64,
    /// Hours an organiser's browser session lasts once a sign-in link opened it.
    #[arg(long, env = "COHORT_SESSION_HOURS", default_value_t = 12, value_parser = positive::<u64>)]
    pub session_hours: u64,
    /// For tests only: enables POST /test/drop-signaling, which cuts every signaling
    /// connection at once, as a network failure would. Never enable in production.
    #[arg(long, env = "COHORT_TEST_HOOKS")]
    pub test_hooks: bool,
}

impl Cli {
    pub fn sfu_config(&self) -> SfuConfig {
        let bind_ip = self.media_ip.unwrap_or(self.http.ip());
        SfuConfig {
            bind_ip,
            public_ip: self.public_ip,
            udp_port: self.udp_port,
            engines: self.engines,
            ice_tcp: self.ice_tcp,
            simulcast: self.simulcast,
            estimation: self
                .bandwidth_estimation
                .then(sfu::config::Estimation::default),
            max_participants_per_room: self.max_participants,
            max_rooms: self.max_rooms,
            max_tracks_per_participant: self.max_tracks,
            room: sfu::config::RoomConfig {
                dynacast_delay: self
                    .dynacast
                    .then(|| sfu::config::RoomConfig::default().dynacast_delay)
                    .flatten(),
                ..sfu::config::RoomConfig::default()
            },
        }
    }

    /// Settings for the API and access checks; `addr` is where the HTTP listener is bound.
    pub fn settings(&self, addr: SocketAddr) -> Settings {
        let public_url = match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{addr}"),
        };
        Settings {
            public_url,
            open_rooms: self.open_rooms,
            max_capacity: i64::try_from(self.max_participants).unwrap_or(i64::MAX),
            api_rate: Rate {
                per_minute: self.api_rate,
                burst: self.api_burst,
            },
            join_rate: Rate {
                per_minute: self.join_rate,
                burst: self.join_burst,
            },
            metrics_room_cap: self.metrics_room_cap,
            metrics_token: self.metrics_token.clone().filter(|t| !t.is_empty()),
            metrics_elsewhere: self.metrics_addr.is_some(),
            data_dir: self.data_dir(),
            session_hours: self.session_hours,
        }
    }

    /// `--data-dir`, or its default beside the database.
    pub fn data_dir(&self) -> std::path::PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        match self
            .db
            .strip_prefix("sqlite://")
            .or_else(|| self.db.strip_prefix("sqlite:"))
        {
            Some(rest) => {
                let file = std::path::Path::new(rest.split('?').next().unwrap_or(rest));
                let stem = file
                    .file_stem()
                    .map_or("cohort".into(), |s| s.to_string_lossy());
                file.with_file_name(format!("{stem}-files"))
            }
            None => std::path::PathBuf::from("cohort-files"),
        }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes,
            message_rate: self.message_rate,
            chat_per_minute: self.chat_rate,
            chat_burst: self.chat_burst,
            upload_max_bytes: self.upload_max_mb.saturating_mul(1_000_000),
            room_quota_bytes: self.room_quota_mb.saturating_mul(1_000_000),
            storage_quota_bytes: self.storage_quota_mb.saturating_mul(1_000_000),
            join_within: Duration::from_secs(self.join_timeout_seconds),
            notes: crate::notes::Limits {
                max_frame_bytes: self.notes_frame_kb.saturating_mul(1024),
                max_doc_bytes: self.notes_doc_kb.saturating_mul(1024),
                updates_per_second: self.notes_update_rate,
                update_burst: self.notes_update_rate.saturating_mul(2),
                max_connections: self.notes_connections,
                history_every: std::time::Duration::from_secs(self.notes_history_seconds),
                ..crate::notes::Limits::default()
            },
            ..Limits::default()
        }
    }

    /// Limits on the HTTP listener's connections, before they are fitted to the open-file limit.
    pub fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            header_timeout: Duration::from_secs(self.header_timeout_seconds),
            max_connections: self.max_connections,
            max_per_ip: self.max_connections_per_ip,
        }
    }

    /// Media engines' sockets and wakers: two file descriptors each.
    pub fn media_fds(&self) -> u64 {
        let engines = match self.engines {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        2 * engines as u64
    }
}

/// Per-connection signaling limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub message_rate: u32,
    /// A connection silent this long is dead.
    pub dead_after: Duration,
    /// How often the server pings.
    pub ping_every: Duration,
    /// A connection that has not joined this long after opening is closed (1008).
    pub join_within: Duration,
    /// Chat messages a minute per person and room (0: no limit), in bursts of `chat_burst`.
    pub chat_per_minute: u32,
    pub chat_burst: u32,
    /// Largest upload, a room's uploads in all, and the server's, in bytes.
    pub upload_max_bytes: u64,
    pub room_quota_bytes: u64,
    pub storage_quota_bytes: u64,
    /// Shared notes' frames, documents, edit rate and connections.
    pub notes: crate::notes::Limits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024,
            message_rate: 50,
            dead_after: Duration::from_secs(15),
            ping_every: Duration::from_secs(5),
            join_within: Duration::from_secs(30),
            chat_per_minute: 30,
            chat_burst: 10,
            upload_max_bytes: 25_000_000,
            room_quota_bytes: 500_000_000,
            storage_quota_bytes: 20_000_000_000,
            notes: crate::notes::Limits::default(),
        }
    }
}

/// A count that must be at least 1: with 0 the server could not work (no participant, no
/// message), so it is refused at start rather than read as "no limit".
fn positive<T: std::str::FromStr + Default + PartialEq>(s: &str) -> Result<T, String> {
    let n: T = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if n == T::default() {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_live_beside_the_database_by_default() {
        let dir = |args: &[&str]| Cli::parse_from([&["cohort"], args].concat()).data_dir();
        assert_eq!(dir(&[]), std::path::PathBuf::from("cohort-files"));
        assert_eq!(
            dir(&["--db", "sqlite:///srv/cohort/main.db?mode=rwc"]),
            std::path::PathBuf::from("/srv/cohort/main-files")
        );
        assert_eq!(
            dir(&["--db", "postgres://c@127.0.0.1/c"]),
            std::path::PathBuf::from("cohort-files")
        );
        assert_eq!(
            dir(&["--data-dir", "/var/lib/cohort"]),
            std::path::PathBuf::from("/var/lib/cohort")
        );
    }

    #[test]
    fn defaults_serve_loopback() {
        let cli = Cli::parse_from(["cohort"]);
        assert_eq!(cli.http.to_string(), "127.0.0.1:8080");
        assert_eq!((cli.udp_port, cli.engines), (7882, 0));
        assert!(cli.sfu_config().bind_ip.is_loopback());
    }

    #[test]
    fn limits_that_would_stop_the_server_working_are_refused() {
        for flag in [
            "--max-participants",
            "--max-rooms",
            "--max-tracks",
            "--max-message-bytes",
            "--message-rate",
            "--api-burst",
            "--join-burst",
            "--chat-burst",
            "--upload-max-mb",
            "--room-quota-mb",
            "--storage-quota-mb",
        ] {
            let err = Cli::try_parse_from(["cohort", flag, "0"]).unwrap_err();
            assert!(err.to_string().contains("at least 1"), "{flag}: {err}");
            assert!(Cli::try_parse_from(["cohort", flag, "7"]).is_ok(), "{flag}");
        }
        // 0 means "no limit" where --help says so.
        let cli = Cli::try_parse_from(["cohort", "--api-rate", "0", "--join-rate", "0"]).unwrap();
        assert_eq!((cli.api_rate, cli.join_rate), (0, 0));
    }
}
