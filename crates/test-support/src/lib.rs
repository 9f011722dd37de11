//! Fixtures for Weft tests: replicas on temporary directories with a shared manual clock, and
//! in-memory change exchange between them. Used from dev-dependencies only.
//!
//! ```
//! let clock = weft_test_support::clock();
//! let mut a = weft_test_support::Replica::new("ada", &clock);
//! let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
//! let mut b = weft_test_support::Replica::new("bob", &clock);
//! a.engine.add_member(ws, b.user(), weft_domain::Role::Member).unwrap();
//! weft_test_support::exchange(&mut a, &mut b);
//! assert!(b.engine.find_channel(ws, "general").is_ok());
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use weft_core::{Engine, ManualClock};
use weft_domain::{Id, Profile, Timestamp};

/// 2026-11-02T09:00:00Z, a Monday: the start of every test's day.
pub const T0: Timestamp = Timestamp(1_793_610_000_000);

/// A manual clock at [`T0`].
pub fn clock() -> ManualClock {
    ManualClock::new(T0)
}

/// One person's device: an engine on its own temporary data directory.
pub struct Replica {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
    pub clock: ManualClock,
    pub name: String,
}

impl Replica {
    /// A new replica with a profile named `name` (also its username).
    pub fn new(name: &str, clock: &ManualClock) -> Replica {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut engine =
            Engine::open_with_clock(dir.path(), Box::new(clock.clone())).expect("open");
        engine
            .init_profile(Profile {
                display_name: name.into(),
                username: name.into(),
                ..Profile::default()
            })
            .expect("profile");
        Replica {
            dir,
            engine,
            clock: clock.clone(),
            name: name.into(),
        }
    }

    /// Another device of `user`'s: same person, its own device id and data directory.
    pub fn device_of(user: &Replica, clock: &ManualClock) -> Replica {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut engine =
            Engine::open_with_clock(dir.path(), Box::new(clock.clone())).expect("open");
        let profile = user.engine.profile().expect("profile");
        engine.init_device(user.user(), profile).expect("device");
        Replica {
            dir,
            engine,
            clock: clock.clone(),
            name: format!("{}'s second device", user.name),
        }
    }

    /// This replica's user id.
    pub fn user(&self) -> Id {
        self.engine.identity().expect("identity").user
    }

    /// Closes and reopens the engine on the same directory (a restart).
    pub fn restart(&mut self) {
        let dir = self.dir.path().to_owned();
        let placeholder = tempfile::tempdir().expect("temp dir");
        let scratch = Engine::open(placeholder.path()).expect("scratch");
        drop(std::mem::replace(&mut self.engine, scratch));
        self.engine = Engine::open_with_clock(&dir, Box::new(self.clock.clone())).expect("reopen");
    }
}

/// Sends everything `from` has to `to` through a change file (in memory).
pub fn send(from: &mut Replica, to: &mut Replica) {
    let bytes = from.engine.export_changes().expect("export");
    to.engine.import_changes(&bytes).expect("import");
}

/// Both directions.
pub fn exchange(a: &mut Replica, b: &mut Replica) {
    send(a, b);
    send(b, a);
}

/// Ada, who made the workspace "Acme", and Bob, a member who has it: the two replicas, the
/// workspace and its #general.
pub fn team(clock: &ManualClock) -> (Replica, Replica, Id, Id) {
    let mut a = Replica::new("ada", clock);
    let mut b = Replica::new("bob", clock);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    a.engine
        .add_member(ws, b.user(), weft_domain::Role::Member)
        .unwrap();
    let general = a.engine.find_channel(ws, "general").unwrap();
    exchange(&mut a, &mut b);
    (a, b, ws, general)
}
