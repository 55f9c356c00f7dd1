//! Portal sessions: a random id in an HttpOnly, SameSite=Strict cookie
//! (Secure when the service is reached over https), each with its own CSRF
//! token, the projects it may see, and an expiry; signing out or expiring
//! forgets it. A host of several projects keeps one set of sessions for all
//! of them, so one sign-in reaches every project its token sees.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "syncwright_session";
/// The cookie that carries the sign-in form's CSRF token.
pub const LOGIN_COOKIE: &str = "syncwright_login";

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every form of the session carries.
    pub csrf: String,
    /// When it ends.
    pub expires: Instant,
    /// The projects it may see (by name).
    pub projects: Vec<String>,
}

impl Session {
    /// True when the session may see project `name`.
    pub fn sees(&self, name: &str) -> bool {
        self.projects.iter().any(|p| p == name)
    }
}

/// The sessions of one service, or of every project of a host.
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session lasting `ttl` that sees `projects`; returns its id.
    pub fn open(&self, ttl: Duration, projects: Vec<String>) -> String {
        let id = crate::auth::random_secret(40);
        let session = Session {
            csrf: crate::auth::random_secret(32),
            expires: Instant::now() + ttl,
            projects,
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, s| s.expires > Instant::now());
        open.insert(id.clone(), session);
        id
    }

    /// The live session `id`, if any (an expired one is forgotten).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match open.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                open.remove(id);
                None
            }
            None => None,
        }
    }

    /// Forgets session `id`.
    pub fn close(&self, id: &str) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, Secure when
/// `secure`, lasting `max_age` seconds (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_close() {
        let sessions = Sessions::default();
        let id = sessions.open(Duration::from_secs(60), vec!["a".into()]);
        assert!(sessions
            .get(&id)
            .is_some_and(|s| s.sees("a") && !s.sees("b")));
        assert!(sessions.get("other").is_none());
        sessions.close(&id);
        assert!(sessions.get(&id).is_none());
        let short = sessions.open(Duration::ZERO, vec![]);
        assert!(sessions.get(&short).is_none(), "an expired session is gone");
    }

    #[test]
    fn cookies_are_read_and_written_strictly() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("cookie", "a=1; syncwright_session=abc".parse().unwrap());
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
        let set = set_cookie(COOKIE, "abc", 60, true);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.ends_with("Secure")
        );
    }
}
