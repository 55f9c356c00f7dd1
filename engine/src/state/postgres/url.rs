//! The database a `postgres://` URL names, and how it is shown: never with
//! its password, in a location or in an error.

use std::time::Duration;

use tokio_postgres::config::Host;
use tokio_postgres::Config;

use crate::state::StateError;

/// How long connecting to the server may take before it is an error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed URL with what messages may show of it.
pub(super) struct Target {
    /// The connection settings.
    pub config: Config,
    /// The URL without credentials.
    pub shown: String,
    /// The password as written, to keep it out of messages.
    secrets: Vec<String>,
}

impl Target {
    /// Parses a `postgres://` or `postgresql://` URL. The error shows the
    /// URL without credentials.
    pub fn parse(url: &str) -> Result<Target, StateError> {
        let secrets = secrets_of(url);
        let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
            let shown = scrub(&without_userinfo(url), &secrets);
            StateError::Storage(scrub(
                &format!(
                    "{shown}: not a PostgreSQL URL ({})",
                    super::open::describe(&e)
                ),
                &secrets,
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("syncwright");
        }
        let mut secrets = secrets;
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        let shown = shown(&config);
        Ok(Target {
            config,
            shown,
            secrets,
        })
    }

    /// A message about this database, its password taken out.
    pub fn scrub(&self, message: &str) -> String {
        scrub(message, &self.secrets)
    }

    /// A storage error about this database, naming it.
    pub fn error(&self, e: impl std::fmt::Display) -> StateError {
        StateError::Storage(self.scrub(&format!("{}: {e}", self.shown)))
    }
}

/// `postgres://user@host:port/db` from the settings: no password, no
/// options (which may hold one).
fn shown(config: &Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string().replace('/', "%2F"),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

/// The URL with anything before `@` in its authority taken out, for
/// messages about a URL that does not parse.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "a PostgreSQL URL".into();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let path = path.split('?').next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{path}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

/// Passwords written in the URL (in its authority or as `password=`), as
/// written and decoded.
fn secrets_of(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                found.push(password.to_string());
            }
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some(("password", value)) = pair.split_once('=') {
                found.push(value.to_string());
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|s| percent_decode(s)).collect();
    found.extend(decoded);
    found.retain(|s| s.len() >= 3);
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found.dedup();
    found
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok();
        match (bytes[i], hex().and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The message with every secret replaced by `***`.
fn scrub(message: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(message.to_string(), |m, s| m.replace(s.as_str(), "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_never_shows_the_password() {
        let t = Target::parse("postgres://sync:s%3Dcr3t@db.example:5433/state?sslmode=disable")
            .unwrap();
        assert_eq!(t.shown, "postgres://sync@db.example:5433/state");
        assert_eq!(
            t.scrub("failed for s=cr3t and s%3Dcr3t"),
            "failed for *** and ***"
        );
        let t = Target::parse("postgresql://sync@/state?host=/tmp/pg&password=hunter22").unwrap();
        assert_eq!(t.shown, "postgres://sync@%2Ftmp%2Fpg/state");
        assert!(!t.error("boom").to_string().contains("hunter22"));
    }

    #[test]
    fn a_url_that_does_not_parse_is_named_without_credentials() {
        let err = Target::parse("postgres://sync:hunter22@db:notaport/state")
            .err()
            .expect("refused");
        let message = err.to_string();
        assert!(
            message.starts_with("state store: postgres://db:notaport/state: not a PostgreSQL URL"),
            "{message}"
        );
        assert!(!message.contains("hunter22"), "{message}");
    }
}
