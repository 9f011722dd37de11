//! Fractional order keys for columns, cards and subtasks.
//!
//! A key is a string of base-62 digits (`0-9A-Za-z`, which is also their ASCII order), read as
//! a fraction `0.d1d2d3…`; byte order of keys is therefore numeric order. Keys never end with
//! `'0'`, so there is always a key below any key, and a key always exists between two different
//! keys. Replicas make keys without coordinating, so two concurrent inserts may pick the same
//! key: keys need not be unique, and callers break ties by entity id.
//!
//! To keep keys short for the common patterns, the first digit of a key (its head) also says how
//! many leading digits form an "integer part": heads `A`..`p` stand alone, `q`..`z` start 2 to 11
//! digit integers and `9`..`0` start 2 to 11 digit integers below them. Appending after the last
//! key increments that integer like a counter and prepending decrements it, so both grow
//! logarithmically (10,000 appends from [`first`] end at 4 characters). Inserting repeatedly into
//! the same gap halves it each time and grows linearly, about one character per 5 inserts;
//! when [`between`] refuses because a key would exceed [`MAX_KEY_LEN`], rebalance with
//! [`spread`].
//!
//! ```
//! use weft_domain::order;
//! let a = order::first();
//! let b = order::between(Some(&a), None).unwrap();
//! let mid = order::between(Some(&a), Some(&b)).unwrap();
//! assert!(a < mid && mid < b);
//! ```

use crate::DomainError;

/// Longest key [`between`] makes; past it the caller rebalances with [`spread`].
pub const MAX_KEY_LEN: usize = 128;

/// The digits in ascending order; ASCII order agrees, so keys compare as plain strings.
const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: u8 = 62;
const TOP: u8 = BASE - 1;
/// Heads from here to [`HIGH_HEAD`] are one-digit integers ('A').
const LOW_HEAD: u8 = 10;
/// The highest one-digit integer head ('p'); the ten heads above it start longer integers.
const HIGH_HEAD: u8 = 51;
/// The middle of the one-digit heads ('V'), where a new list starts.
const MIDDLE: u8 = 31;

/// The key for the first item of an empty list, in the middle so both ends have room.
pub fn first() -> String {
    encode(&[MIDDLE])
}

/// Whether `key` is a well-formed order key: non-empty, base-62 digits only, not ending in `'0'`
/// and at most [`MAX_KEY_LEN`] long.
pub fn is_valid(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_alphanumeric())
        && !key.ends_with('0')
}

/// A key strictly between `before` and `after`; `None` is an open end.
///
/// Fails when `before >= after`, when a key is malformed, or when the new key would be longer
/// than [`MAX_KEY_LEN`] (rebalance with [`spread`] then).
pub fn between(before: Option<&str>, after: Option<&str>) -> Result<String, DomainError> {
    let a = before.map(|k| decode("before", k)).transpose()?;
    let b = after.map(|k| decode("after", k)).transpose()?;
    let key = match (a.as_deref(), b.as_deref()) {
        (None, None) => return Ok(first()),
        (Some(a), None) => successor(a).unwrap_or_else(|| midpoint(a, None)),
        (None, Some(b)) => predecessor(b).unwrap_or_else(|| midpoint(&[], Some(b))),
        (Some(a), Some(b)) => {
            if a >= b {
                return Err(DomainError::Invalid(format!(
                    "order key {:?} is not before {:?}",
                    crate::id::truncate(before.unwrap_or_default()),
                    crate::id::truncate(after.unwrap_or_default()),
                )));
            }
            midpoint(a, Some(b))
        }
    };
    if key.len() > MAX_KEY_LEN {
        return Err(DomainError::Invalid(format!(
            "no room for an order key under {MAX_KEY_LEN} characters here; rebalance the list"
        )));
    }
    Ok(encode(&key))
}

/// `n` increasing, evenly spaced keys, for a list's initial items or for rebalancing.
///
/// They all use one-digit heads, so appending and prepending afterwards stay short; `spread(1)`
/// is [`first`].
pub fn spread(n: usize) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let slots = n as u128 + 1;
    // The range of one-digit heads, LOW_HEAD ..= HIGH_HEAD, scaled to `width` digits until it
    // holds n + 1 steps, so that the keys are distinct and none touches the range's ends.
    let mut width = 1usize;
    let mut unit: u128 = 1; // 62^(width - 1)
    while u128::from(HIGH_HEAD + 1 - LOW_HEAD).saturating_mul(unit) < slots {
        width += 1;
        unit = unit.saturating_mul(u128::from(BASE));
    }
    let low = u128::from(LOW_HEAD).saturating_mul(unit);
    let span = u128::from(HIGH_HEAD + 1 - LOW_HEAD).saturating_mul(unit);
    (1..=n as u128)
        .map(|i| {
            let mut v = low.saturating_add(i.saturating_mul(span) / slots);
            let mut digits = vec![0u8; width];
            for d in digits.iter_mut().rev() {
                // The remainder is below 62, so the cast cannot truncate.
                *d = (v % u128::from(BASE)) as u8;
                v /= u128::from(BASE);
            }
            // Trailing zeros do not change a fraction's value, and keys must not end in '0'.
            while digits.last() == Some(&0) {
                digits.pop();
            }
            encode(&digits)
        })
        .collect()
}

/// Digit values of a key, or why it is not a key.
fn decode(which: &str, key: &str) -> Result<Vec<u8>, DomainError> {
    let shown = crate::id::truncate(key);
    if key.is_empty() {
        return Err(DomainError::Invalid(format!("{which} order key is empty")));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(DomainError::Invalid(format!(
            "{which} order key {shown:?} is longer than {MAX_KEY_LEN} characters"
        )));
    }
    if key.ends_with('0') {
        return Err(DomainError::Invalid(format!(
            "{which} order key {shown:?} ends with '0'"
        )));
    }
    key.bytes()
        .map(|b| match b {
            b'0'..=b'9' => Ok(b - b'0'),
            b'A'..=b'Z' => Ok(b - b'A' + 10),
            b'a'..=b'z' => Ok(b - b'a' + 36),
            _ => Err(DomainError::Invalid(format!(
                "{which} order key {shown:?} has a character outside 0-9A-Za-z"
            ))),
        })
        .collect()
}

fn encode(digits: &[u8]) -> String {
    digits
        .iter()
        .map(|&d| char::from(DIGITS[usize::from(d)]))
        .collect()
}

/// How many leading digits form the integer part of a key with this head.
fn int_len(head: u8) -> usize {
    if head < LOW_HEAD {
        1 + usize::from(LOW_HEAD - head)
    } else if head > HIGH_HEAD {
        1 + usize::from(head - HIGH_HEAD)
    } else {
        1
    }
}

/// The integer part of `key` (non-empty), padded with zeros when the key is shorter; padding
/// does not change a fraction's value.
fn int_part(key: &[u8]) -> Vec<u8> {
    let len = key.first().map_or(1, |&h| int_len(h));
    key.iter()
        .copied()
        .chain(std::iter::repeat(0))
        .take(len)
        .collect()
}

/// The next integer after `key`'s integer part: greater than `key` itself, since it is greater
/// in its first digits. `None` past the largest integer.
fn successor(key: &[u8]) -> Option<Vec<u8>> {
    let mut int = int_part(key);
    let head = *int.first()?;
    if increment(&mut int[1..]) {
        return Some(int);
    }
    if head == TOP {
        return None;
    }
    Some(smallest_int(head + 1))
}

/// A key before `key`: its integer part alone when it has a fraction, else the previous
/// integer. `None` below the smallest integer.
fn predecessor(key: &[u8]) -> Option<Vec<u8>> {
    let mut int = int_part(key);
    let head = *int.first()?;
    // A proper prefix sorts first, and dropping the fraction is as short as it gets.
    if key.len() > int.len() && int.last() != Some(&0) {
        return Some(int);
    }
    if decrement(&mut int[1..]) {
        return Some(int);
    }
    if head == 0 {
        return None;
    }
    Some(largest_int(head - 1))
}

/// The smallest integer with this head that does not end in '0'.
fn smallest_int(head: u8) -> Vec<u8> {
    let mut int = vec![0; int_len(head)];
    int[0] = head;
    if let Some(last) = int.get_mut(1..).and_then(|body| body.last_mut()) {
        *last = 1;
    }
    int
}

/// The largest integer with this head.
fn largest_int(head: u8) -> Vec<u8> {
    let mut int = vec![TOP; int_len(head)];
    int[0] = head;
    int
}

/// Adds one to a fixed-width number, skipping values ending in '0'; false on overflow.
fn increment(body: &mut [u8]) -> bool {
    loop {
        let mut carried = true;
        for d in body.iter_mut().rev() {
            if *d == TOP {
                *d = 0;
            } else {
                *d += 1;
                carried = false;
                break;
            }
        }
        if carried {
            return false;
        }
        if body.last() != Some(&0) {
            return true;
        }
    }
}

/// Subtracts one from a fixed-width number, skipping values ending in '0'; false on underflow.
fn decrement(body: &mut [u8]) -> bool {
    loop {
        let mut borrowed = true;
        for d in body.iter_mut().rev() {
            if *d == 0 {
                *d = TOP;
            } else {
                *d -= 1;
                borrowed = false;
                break;
            }
        }
        if borrowed {
            return false;
        }
        if body.last() != Some(&0) {
            return true;
        }
    }
}

/// A key strictly between `a` (empty means zero) and `b` (`None` means one), which must satisfy
/// `a < b` with neither ending in '0'. Picks the middle digit at the first place where there
/// is room, so the gap halves and the result stays within one digit of the longer bound.
fn midpoint(a: &[u8], b: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut a, mut b) = (a, b);
    loop {
        if let Some(bb) = b {
            // Shared digits (reading `a` padded with zeros) are kept as they are. `b` cannot run
            // out first: it would then be a prefix of `a`, or `a` padded with zeros, and neither
            // is possible when `a < b` and `b` does not end in '0'.
            let n = bb
                .iter()
                .enumerate()
                .take_while(|&(i, &d)| a.get(i).copied().unwrap_or(0) == d)
                .count();
            out.extend_from_slice(&bb[..n]);
            a = a.get(n..).unwrap_or_default();
            b = Some(&bb[n..]);
        }
        let da = a.first().copied().unwrap_or(0);
        let db = b.and_then(|b| b.first().copied()).unwrap_or(BASE);
        if db > da + 1 {
            // Rounds up, so the digit is above `da` and never '0'.
            out.push((da + db).div_ceil(2));
            return out;
        }
        // Adjacent digits. If `b` goes on, its first digit alone is above `a` and below `b`.
        if let Some(bb) = b.filter(|bb| bb.len() > 1) {
            out.push(bb[0]);
            return out;
        }
        // Otherwise keep `a`'s digit and look for room above the rest of `a`.
        out.push(da);
        a = a.get(1..).unwrap_or_default();
        b = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn after(k: &str) -> String {
        between(Some(k), None).unwrap()
    }

    fn before(k: &str) -> String {
        between(None, Some(k)).unwrap()
    }

    #[test]
    fn an_empty_list_starts_in_the_middle() {
        assert_eq!(first(), "V");
        assert_eq!(between(None, None).unwrap(), "V");
        assert!(is_valid(&first()));
    }

    #[test]
    fn between_two_keys_is_strictly_between() {
        for (a, b) in [
            ("V", "W"),
            ("V", "X"),
            ("V", "V1"),
            ("Vz", "W"),
            ("1", "2"),
            ("0z", "1"),
        ] {
            let k = between(Some(a), Some(b)).unwrap();
            assert!(a < k.as_str() && k.as_str() < b, "{a} < {k} < {b}");
            assert!(is_valid(&k));
        }
        assert_eq!(between(Some("V"), Some("X")).unwrap(), "W");
    }

    #[test]
    fn repeated_appends_grow_like_a_counter() {
        let mut keys = vec![first()];
        for _ in 0..10_000 {
            let next = after(keys.last().unwrap());
            assert!(keys.last().unwrap() < &next);
            keys.push(next);
        }
        let longest = keys.iter().map(String::len).max().unwrap();
        assert!(longest <= 4, "longest key {longest}");
        assert_eq!(&keys[1..3], ["W", "X"]);
    }

    #[test]
    fn repeated_prepends_stay_short_too() {
        let mut keys = vec![first()];
        for _ in 0..10_000 {
            let next = before(keys.last().unwrap());
            assert!(&next < keys.last().unwrap());
            keys.push(next);
        }
        let longest = keys.iter().map(String::len).max().unwrap();
        assert!(longest <= 4, "longest key {longest}");
    }

    #[test]
    fn inserting_into_one_gap_grows_slowly() {
        // Always just after the same item, and always just before the same item.
        let (lo, hi) = ("V".to_owned(), "W".to_owned());
        let mut upper = hi.clone();
        let mut lower = lo.clone();
        for _ in 0..300 {
            upper = between(Some(&lo), Some(&upper)).unwrap();
            lower = between(Some(&lower), Some(&hi)).unwrap();
            assert!(lo < upper && lower < hi);
        }
        // About one character per 5 inserts (measured: 51 and 61 characters).
        assert!(upper.len() <= 300 / 4, "{}", upper.len());
        assert!(lower.len() <= 300 / 4, "{}", lower.len());
    }

    #[test]
    fn ends_of_the_key_space_still_have_room() {
        let top = "z".repeat(11);
        let k = after(&top);
        assert!(k > top && is_valid(&k));
        let bottom = format!("0{}1", "0".repeat(9));
        let k = before(&bottom);
        assert!(k < bottom && is_valid(&k));
        let k = before("1");
        assert!(k.as_str() < "1" && is_valid(&k));
        // Short keys made by midpoints in the long-integer ranges.
        assert!(after("z").as_str() > "z");
        assert!(before("01").as_str() < "01");
    }

    #[test]
    fn bad_input_is_refused() {
        for (a, b) in [
            (Some("W"), Some("V")),
            (Some("V"), Some("V")),
            (Some("a-b"), None),
            (None, Some("é")),
            (Some(""), None),
            (Some("V0"), None),
            (None, Some("0")),
        ] {
            assert!(
                matches!(between(a, b), Err(DomainError::Invalid(_))),
                "{a:?} {b:?}"
            );
        }
        let long = "V".repeat(MAX_KEY_LEN + 1);
        assert!(between(Some(&long), None).is_err());
    }

    #[test]
    fn refuses_to_make_a_key_past_the_limit() {
        let b = format!("V{}1", "0".repeat(MAX_KEY_LEN - 2));
        assert_eq!(b.len(), MAX_KEY_LEN);
        assert!(matches!(
            between(Some("V"), Some(&b)),
            Err(DomainError::Invalid(_))
        ));
    }

    #[test]
    fn validity() {
        assert!(is_valid("V") && is_valid("a0b") && is_valid("zz"));
        assert!(!is_valid("") && !is_valid("V0") && !is_valid("a b") && !is_valid("a_b"));
        assert!(!is_valid(&"V".repeat(MAX_KEY_LEN + 1)));
    }

    #[test]
    fn spread_is_even_increasing_and_leaves_room() {
        assert!(spread(0).is_empty());
        assert_eq!(spread(1), [first()]);
        assert_eq!(spread(3), ["K", "V", "f"]);
        for n in [2, 41, 42, 100, 2_604, 2_605, 10_000] {
            let keys = spread(n);
            assert_eq!(keys.len(), n);
            assert!(keys.iter().all(|k| is_valid(k)));
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "n = {n}");
            assert!(keys.iter().all(|k| k.len() <= 3), "n = {n}");
            // Both ends stay in the one-digit range, so the next append is short.
            assert!(after(keys.last().unwrap()).len() <= 2);
            assert!(before(&keys[0]).len() <= 2);
        }
    }

    proptest! {
        #[test]
        fn random_inserts_keep_the_list_strictly_ordered(
            ops in prop::collection::vec(any::<prop::sample::Index>(), 1..300)
        ) {
            let mut keys: Vec<String> = Vec::new();
            for op in ops {
                let i = op.index(keys.len() + 1);
                let lo = if i == 0 { None } else { Some(keys[i - 1].as_str()) };
                let hi = keys.get(i).map(String::as_str);
                let k = between(lo, hi).unwrap();
                prop_assert!(is_valid(&k));
                keys.insert(i, k);
            }
            prop_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        }

        #[test]
        fn between_any_two_keys(
            a in "[0-9A-Za-z]{0,12}[1-9A-Za-z]",
            b in "[0-9A-Za-z]{0,12}[1-9A-Za-z]",
        ) {
            let k = between(Some(&a), None).unwrap();
            prop_assert!(k > a && is_valid(&k));
            let k = between(None, Some(&a)).unwrap();
            prop_assert!(k < a && is_valid(&k));
            if a != b {
                let (lo, hi) = if a < b { (&a, &b) } else { (&b, &a) };
                let k = between(Some(lo), Some(hi)).unwrap();
                prop_assert!(lo < &k && &k < hi && is_valid(&k), "{lo} < {k} < {hi}");
            } else {
                prop_assert!(between(Some(&a), Some(&b)).is_err());
            }
        }
    }
}
