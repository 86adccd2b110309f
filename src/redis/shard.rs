//! Which Redis shard holds a user: the user's pub/sub channel, unread
//! counters and connect-rate window all live on one shard, chosen here.
//!
//! Why a fixed function and not Rust's `DefaultHasher`: every node (and any
//! producer that wants to find a user's shard) must pick the same shard for
//! the same user, across processes, builds and Rust versions; the standard
//! hasher is randomly seeded per process. So the choice is written out:
//!
//! 1. FNV-1a, 64 bit, over the user id's bytes (UTF-8; user ids are ASCII);
//! 2. Lamping and Veach's jump consistent hash of that value over the
//!    number of shards: adding a shard moves only about 1/(n+1) of the
//!    users, and shard numbers follow the order of the URLs in `REDIS_URL`.
//!
//! With one shard every user is on shard 0: a single `REDIS_URL` behaves
//! exactly as before sharding (same keys, same channels).

use crate::models::UserId;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

/// Jump consistent hash (Lamping & Veach, 2014): a bucket in `0..buckets`.
/// `buckets` must be at least 1.
pub fn jump_consistent_hash(mut key: u64, buckets: usize) -> usize {
    let mut bucket: i64 = -1;
    let mut next: i64 = 0;
    while next < buckets as i64 {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    bucket.max(0) as usize
}

/// The shard of a user among `shards` (at least 1).
pub fn shard_of(user: &UserId, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    jump_consistent_hash(fnv1a(user.as_str().as_bytes()), shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn jump_hash_matches_the_reference_vectors() {
        // The vectors every port of the paper's C++ code is tested with
        // (e.g. the Go package github.com/dgryski/go-jump).
        assert_eq!(jump_consistent_hash(1, 1), 0);
        assert_eq!(jump_consistent_hash(42, 57), 43);
        assert_eq!(jump_consistent_hash(0xDEAD_10CC, 1), 0);
        assert_eq!(jump_consistent_hash(0xDEAD_10CC, 666), 361);
        assert_eq!(jump_consistent_hash(256, 1024), 520);
    }

    /// Fixed expected values: a node built tomorrow, or a producer in
    /// another language, must pick the same shards as this one. They were
    /// computed independently with the Python version in docs/protocol.md.
    #[test]
    fn the_choice_is_stable_across_processes() {
        assert_eq!(shard_of(&user("1"), 1), 0);
        assert_eq!(shard_of(&user("anything"), 1), 0);
        let ids = ["1", "2", "3", "42", "u0", "u1", "alice"];
        let of = |n| {
            ids.iter()
                .map(|id| shard_of(&user(id), n))
                .collect::<Vec<_>>()
        };
        assert_eq!(of(2), [1, 1, 0, 1, 0, 1, 0]);
        assert_eq!(of(3), [2, 2, 2, 1, 0, 1, 0]);
    }

    #[test]
    fn users_spread_over_all_shards_and_few_move_when_one_is_added() {
        let users: Vec<UserId> = (0..30_000).map(|i| user(&format!("u{i}"))).collect();
        let mut per_shard = [0usize; 3];
        for u in &users {
            per_shard[shard_of(u, 3)] += 1;
        }
        for n in per_shard {
            assert!((9_000..11_000).contains(&n), "{per_shard:?}");
        }
        let moved = users
            .iter()
            .filter(|u| shard_of(u, 3) != shard_of(u, 4))
            .count();
        // About a quarter move to the new shard, and only to it.
        assert!((6_500..8_500).contains(&moved), "{moved} moved");
        assert!(
            users
                .iter()
                .filter(|u| shard_of(u, 3) != shard_of(u, 4))
                .all(|u| shard_of(u, 4) == 3)
        );
    }
}
