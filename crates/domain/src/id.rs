//! Ids are ULIDs made on the device: sortable by creation time, unique without coordination.

use crate::{DomainError, Timestamp};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// A ULID, shown in its canonical 26-character Crockford base-32 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Id(ulid::Ulid);

/// On the wire (and in the desktop app's TypeScript) an id is its 26-character string.
#[cfg(feature = "specta")]
impl specta::Type for Id {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        <String as specta::Type>::definition(types)
    }
}

impl Id {
    /// Builds an id from a creation time and 80 random bits, both supplied by the caller.
    pub fn from_parts(at: Timestamp, random: u128) -> Id {
        let ms = u64::try_from(at.0.max(0)).unwrap_or(0);
        Id(ulid::Ulid::from_parts(ms, random))
    }

    /// The millisecond this id was made at.
    pub fn timestamp(&self) -> Timestamp {
        Timestamp(i64::try_from(self.0.timestamp_ms()).unwrap_or(i64::MAX))
    }

    /// The id as 16 bytes (big-endian), for compact storage.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_bytes()
    }

    /// The id from its 16 bytes ([`Id::to_bytes`]).
    pub fn from_bytes(b: [u8; 16]) -> Id {
        Id(ulid::Ulid::from_bytes(b))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Id {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Id, DomainError> {
        ulid::Ulid::from_string(s)
            .map(Id)
            .map_err(|_| DomainError::BadId(truncate(s)))
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for Id {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Id, DomainError> {
        s.parse()
    }
}

/// Error messages quote user input; long input is cut so a message stays readable.
pub(crate) fn truncate(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_owned()
    } else {
        s.chars().take(64).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_and_keeps_its_time() {
        let id = Id::from_parts(Timestamp(1_700_000_000_123), 42);
        let back: Id = id.to_string().parse().unwrap();
        assert_eq!(back, id);
        assert_eq!(back.timestamp(), Timestamp(1_700_000_000_123));
    }

    #[test]
    fn ids_sort_by_time() {
        let a = Id::from_parts(Timestamp(1), u128::MAX >> 48);
        let b = Id::from_parts(Timestamp(2), 0);
        assert!(a < b);
    }

    #[test]
    fn garbage_id_is_a_clear_error() {
        let err = "not-an-id".parse::<Id>().unwrap_err();
        assert_eq!(err, DomainError::BadId("not-an-id".into()));
    }
}
