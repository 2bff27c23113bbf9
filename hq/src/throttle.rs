//! Login throttles: a token bucket per key (a client address, a user name), in memory and
//! bounded in size, so password guessing gets `429` with `Retry-After` long before it costs HQ
//! anything worth noticing.
//!
//! Each attempt takes a token; a bucket holds at most `per_minute` tokens and regains
//! `per_minute` of them a minute. A key whose bucket is full again is the same as a key never
//! seen, so it is forgotten first when the table is full.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys tracked by one throttle at most (each entry is a few dozen bytes).
pub const MAX_KEYS: usize = 10_000;

/// A token bucket per key.
#[derive(Debug)]
pub struct Throttle {
    per_minute: f64,
    max_keys: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Throttle {
    /// A throttle allowing `per_minute` attempts a minute per key (and as a burst).
    pub fn new(per_minute: u32, max_keys: usize) -> Throttle {
        Throttle {
            per_minute: f64::from(per_minute.max(1)),
            max_keys: max_keys.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let gained = now.duration_since(b.at).as_secs_f64() * self.per_minute / 60.0;
        b.tokens = (b.tokens + gained).min(self.per_minute);
        b.at = now;
    }

    /// How long until `key` may try again, or `None` when it may try now.
    pub fn wait(&self, key: &str) -> Option<Duration> {
        self.wait_at(key, Instant::now())
    }

    fn wait_at(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.get_mut(key)?;
        self.refill(b, now);
        (b.tokens < 1.0).then(|| {
            Duration::from_secs_f64((1.0 - b.tokens) * 60.0 / self.per_minute)
                .max(Duration::from_secs(1))
        })
    }

    /// Takes a token for one attempt by `key`: `Err(wait)` (and nothing taken) when its bucket
    /// is empty.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) && map.len() >= self.max_keys {
            self.make_room(&mut map, now);
        }
        let full = self.per_minute;
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: full,
            at: now,
        });
        self.refill(b, now);
        if b.tokens < 1.0 {
            let secs = (1.0 - b.tokens) * 60.0 / self.per_minute;
            return Err(Duration::from_secs_f64(secs).max(Duration::from_secs(1)));
        }
        b.tokens -= 1.0;
        Ok(())
    }

    /// Forgets `key` (a user who signed in is not held back by their earlier typos).
    pub fn forget(&self, key: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the buckets that are full again (the same as never seen); when none is, drops the
    /// fullest one, so the keys being held back are the last to go.
    fn make_room(&self, map: &mut HashMap<String, Bucket>, now: Instant) {
        let per_minute = self.per_minute;
        map.retain(|_, b| {
            let gained = now.duration_since(b.at).as_secs_f64() * per_minute / 60.0;
            b.tokens + gained < per_minute
        });
        if map.len() >= self.max_keys {
            let fullest = map
                .iter()
                .max_by(|a, b| a.1.tokens.total_cmp(&b.1.tokens))
                .map(|(k, _)| k.clone());
            if let Some(k) = fullest {
                map.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_refill_interval() {
        let t = Throttle::new(6, 100); // 6 a minute: one every 10 s
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(t.take_at("1.2.3.4", t0).is_ok());
        }
        let wait = t.take_at("1.2.3.4", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(10));
        assert_eq!(t.wait_at("1.2.3.4", t0), Some(Duration::from_secs(10)));
        // Another key is not held back.
        assert!(t.take_at("5.6.7.8", t0).is_ok());
        // 10 s later one more attempt, not two.
        let t1 = t0 + Duration::from_secs(10);
        assert!(t.take_at("1.2.3.4", t1).is_ok());
        assert!(t.take_at("1.2.3.4", t1).is_err());
        // Never less than a second of Retry-After.
        let t2 = t1 + Duration::from_millis(9_900);
        assert_eq!(t.wait_at("1.2.3.4", t2), Some(Duration::from_secs(1)));
        t.forget("1.2.3.4");
        assert!(t.take_at("1.2.3.4", t2).is_ok());
    }

    #[test]
    fn the_table_stays_bounded_and_keeps_who_is_held_back() {
        let t = Throttle::new(3, 50);
        let t0 = Instant::now();
        for _ in 0..3 {
            t.take_at("victim", t0).unwrap();
        }
        for i in 0..10_000 {
            let _ = t.take_at(&format!("k{i}"), t0);
            assert!(t.len() <= 50);
        }
        // The key with an empty bucket was never the one dropped.
        assert!(t.take_at("victim", t0).is_err());
        // Buckets that refilled are forgotten first.
        let later = t0 + Duration::from_secs(61);
        t.take_at("new", later).unwrap();
        assert!(t.len() <= 3, "{}", t.len());
    }
}
