//! Secrets compared in constant time: API tokens, button keys, watch
//! channel tokens and webhook signatures. Both sides are hashed first, so
//! neither the content nor the length of a secret shows in the time taken.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// True when `given` equals `expected`, in time that does not depend on
/// where they differ or on their lengths.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    a.ct_eq(&b).into()
}

/// True when `given` is one of `secrets` (each compared in constant time,
/// all of them compared).
pub fn one_of(given: &str, secrets: &[String]) -> bool {
    let mut found = false;
    for secret in secrets {
        found |= same_secret(given.as_bytes(), secret.as_bytes());
    }
    found
}

/// A random secret of `len` letters and digits (channel tokens, session
/// ids, CSRF tokens, generated API tokens).
pub fn random_secret(len: usize) -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_themselves() {
        let secrets = vec!["alpha".to_string(), "beta".to_string()];
        assert!(one_of("beta", &secrets));
        assert!(!one_of("bet", &secrets));
        assert!(!one_of("", &secrets));
        assert!(!one_of("beta", &[]));
        assert_eq!(random_secret(40).len(), 40);
        assert_ne!(random_secret(20), random_secret(20));
    }

    #[test]
    fn reads_bearer_tokens() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
