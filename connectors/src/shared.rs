//! What a connection makes on first use and then shares with every source
//! and sink built from it (a client holding the token, a pacer).

use std::sync::{Arc, Mutex};

/// A value made once, on first use, then shared.
pub struct Shared<T>(Mutex<Option<Arc<T>>>);

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T> Shared<T> {
    /// The value, made by `make` if this is the first use (a failed `make`
    /// is tried again on the next use).
    pub fn get_or_try_init<E>(&self, make: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = held.as_ref() {
            return Ok(value.clone());
        }
        let value = Arc::new(make()?);
        *held = Some(value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_and_shared_after_a_failed_try() {
        let shared: Shared<u32> = Shared::default();
        let failed: Result<_, &str> = shared.get_or_try_init(|| Err("not yet"));
        assert!(failed.is_err());
        let a = shared.get_or_try_init(|| Ok::<_, &str>(7)).unwrap();
        let b = shared.get_or_try_init(|| Ok::<_, &str>(8)).unwrap();
        assert_eq!((*a, *b), (7, 7));
        assert!(Arc::ptr_eq(&a, &b));
    }
}
