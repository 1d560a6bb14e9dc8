//! Per-address rate limits on the API and on joins (tower_governor), answered with 429, a
//! problem document and `Retry-After`. Needs the peer address: serve with [`crate::serve`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::PeerIpKeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::error::AppError;

/// A token bucket for one connection: `rate` a second, in bursts of up to `burst`.
#[derive(Debug)]
pub struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
    /// Refused in a row: a client that keeps going is cut off.
    pub strikes: u32,
}

impl Bucket {
    pub fn new(rate: u32, burst: u32) -> Bucket {
        Bucket {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            last: Instant::now(),
            strikes: 0,
        }
    }

    /// Takes one token if there is one.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            true
        } else {
            self.strikes += 1;
            false
        }
    }
}

/// A rate: `per_minute` requests a minute from one address, with bursts of `burst`.
/// `per_minute == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    pub const OFF: Rate = Rate {
        per_minute: 0,
        burst: 0,
    };
}

type Config = GovernorConfig<PeerIpKeyExtractor, NoOpMiddleware>;

/// A limiter for one group of routes; `None` when the rate is off.
#[derive(Clone)]
pub struct Limiter {
    config: Arc<Config>,
}

impl Limiter {
    pub fn new(rate: Rate) -> Option<Limiter> {
        if rate.per_minute == 0 {
            return None;
        }
        let period = Duration::from_secs(60) / rate.per_minute;
        let config = GovernorConfigBuilder::default()
            .period(period.max(Duration::from_micros(1)))
            .burst_size(rate.burst.max(1))
            .finish()?;
        let config = Arc::new(config);
        // Forget addresses that have been quiet, so the table does not grow without end.
        let weak = Arc::downgrade(&config);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(c) => c.limiter().retain_recent(),
                    None => break,
                }
            }
        });
        Some(Limiter { config })
    }

    /// The tower layer that applies this limit.
    pub fn layer(&self) -> GovernorLayer<PeerIpKeyExtractor, NoOpMiddleware, Body> {
        GovernorLayer::new(Arc::clone(&self.config)).error_handler(refusal)
    }
}

fn refusal(e: GovernorError) -> axum::response::Response {
    match e {
        GovernorError::TooManyRequests { wait_time, .. } => {
            AppError::RateLimited(wait_time.max(1)).into_response()
        }
        other => {
            tracing::error!(error = %other, "rate limiter failed");
            AppError::Config("rate limiter: no peer address".into()).into_response()
        }
    }
}
