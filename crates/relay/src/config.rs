//! Relay configuration: a TOML file, then `WEFT_RELAY_*` environment variables over it.

use serde::Deserialize;
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// Everything the relay needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`WEFT_RELAY_LISTEN`).
    pub listen: SocketAddr,
    /// Where the database lives (`WEFT_RELAY_DATA_DIR`).
    pub data_dir: PathBuf,
    pub limits: Limits,
}

/// Every limit the relay enforces, each with a clear error to the client.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest WebSocket message accepted (`WEFT_RELAY_MAX_FRAME`); larger ones get
    /// `FrameTooLarge`. At most `weft_proto::MAX_FRAME`.
    pub max_frame: usize,
    /// Frames per second per connection, sustained (`WEFT_RELAY_RATE`), with bursts of
    /// `burst` frames.
    pub rate_per_s: u32,
    pub burst: u32,
    /// Frames waiting to go out to one connection; a consumer that far behind is told
    /// `QueueFull` and disconnected, so it never stalls anyone else (`WEFT_RELAY_QUEUE`).
    pub queue: usize,
    /// Seconds to finish the handshake (`WEFT_RELAY_HANDSHAKE_S`).
    pub handshake_s: u64,
    /// Open connections per client address (`WEFT_RELAY_CONNS_PER_ADDR`).
    pub conns_per_addr: usize,
    /// Open connections in all (`WEFT_RELAY_MAX_CONNS`).
    pub max_conns: usize,
    /// Bytes of file chunks kept per workspace (`WEFT_RELAY_FILE_QUOTA`); an upload past it
    /// gets `Quota`.
    pub file_quota: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7870)),
            data_dir: PathBuf::from("weft-relay-data"),
            limits: Limits::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame: weft_proto::MAX_FRAME,
            rate_per_s: 200,
            burst: 400,
            queue: 1024,
            handshake_s: 10,
            conns_per_addr: 64,
            max_conns: 20_000,
            file_quota: 10 << 30,
        }
    }
}

impl Limits {
    pub fn handshake(&self) -> Duration {
        Duration::from_secs(self.handshake_s)
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{var}={value:?}: {reason}")]
    Env {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads `path` (if given), then applies the environment.
    pub fn load(
        path: Option<&std::path::Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Toml {
                    path: p.to_owned(),
                    source,
                })?
            }
            None => Config::default(),
        };
        fn parse<T: std::str::FromStr>(var: &'static str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env {
                var,
                value: value.clone(),
                reason: e.to_string(),
            })
        }
        if let Some(v) = env("WEFT_RELAY_LISTEN") {
            c.listen = parse("WEFT_RELAY_LISTEN", v)?;
        }
        if let Some(v) = env("WEFT_RELAY_DATA_DIR") {
            c.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("WEFT_RELAY_MAX_FRAME") {
            c.limits.max_frame = parse("WEFT_RELAY_MAX_FRAME", v)?;
        }
        if let Some(v) = env("WEFT_RELAY_RATE") {
            c.limits.rate_per_s = parse("WEFT_RELAY_RATE", v)?;
        }
        if let Some(v) = env("WEFT_RELAY_BURST") {
            c.limits.burst = parse("WEFT_RELAY_BURST", v)?;
        }
        if let Some(v) = env("WEFT_RELAY_QUEUE") {
            c.limits.queue = parse("WEFT_RELAY_QUEUE", v)?;
        }
        if let Some(v) = env("WEFT_RELAY_HANDSHAKE_S") {
            c.limits.handshake_s = parse("WEFT_RELAY_HANDSHAKE_S", v)?;
        }
        if let Some(v) = env("WEFT_RELAY_CONNS_PER_ADDR") {
            c.limits.conns_per_addr = parse("WEFT_RELAY_CONNS_PER_ADDR", v)?;
        }
        if let Some(v) = env("WEFT_RELAY_MAX_CONNS") {
            c.limits.max_conns = parse("WEFT_RELAY_MAX_CONNS", v)?;
        }
        if let Some(v) = env("WEFT_RELAY_FILE_QUOTA") {
            c.limits.file_quota = parse("WEFT_RELAY_FILE_QUOTA", v)?;
        }
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        if l.max_frame == 0 || l.max_frame > weft_proto::MAX_FRAME {
            return Err(ConfigError::Invalid(format!(
                "limits.max_frame must be 1..={}",
                weft_proto::MAX_FRAME
            )));
        }
        if l.rate_per_s == 0 || l.burst == 0 || l.queue == 0 || l.handshake_s == 0 {
            return Err(ConfigError::Invalid(
                "limits.rate_per_s, burst, queue and handshake_s must be positive".into(),
            ));
        }
        if l.conns_per_addr == 0 || l.max_conns == 0 {
            return Err(ConfigError::Invalid(
                "limits.conns_per_addr and max_conns must be positive".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("relay.toml");
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/weft\"\n[limits]\nqueue = 10\n",
        )
        .unwrap();
        let c = Config::load(Some(&p), |k| {
            (k == "WEFT_RELAY_QUEUE").then(|| "20".to_owned())
        })
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.limits.queue, 20);
        assert_eq!(c.limits.rate_per_s, 200);
    }

    #[test]
    fn bad_settings_are_named() {
        let e = Config::load(None, |k| {
            (k == "WEFT_RELAY_LISTEN").then(|| "nowhere".to_owned())
        })
        .unwrap_err();
        assert!(
            e.to_string().starts_with("WEFT_RELAY_LISTEN=\"nowhere\""),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("relay.toml");
        std::fs::write(&p, "lisen = 1\n").unwrap();
        let e = Config::load(Some(&p), |_| None).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let e = Config::load(None, |k| (k == "WEFT_RELAY_QUEUE").then(|| "0".into())).unwrap_err();
        assert!(e.to_string().contains("queue"), "{e}");
    }
}
