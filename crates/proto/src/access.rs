//! A workspace's access list: which devices may push, subscribe and fetch, with their roles,
//! and the open invites. Signed by an admin device; the relay enforces it and never trusts a
//! list that the previous list's admins did not sign.

use crate::codec::{Reader, Writer};
use crate::{DecodeError, DeviceKey, MAX_MEMBERS, WorkspaceId};

/// A member device's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member = 0,
    Admin = 1,
    Owner = 2,
}

impl Role {
    fn from_u8(v: u8) -> Result<Role, DecodeError> {
        Ok(match v {
            0 => Role::Member,
            1 => Role::Admin,
            2 => Role::Owner,
            v => {
                return Err(DecodeError::BadValue {
                    field: "role",
                    value: u64::from(v),
                });
            }
        })
    }

    /// Whether this role may change the access list.
    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

/// One device on the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub device: DeviceKey,
    /// The person the device belongs to (their user id).
    pub user: [u8; 16],
    pub role: Role,
}

/// An open invite: whoever holds the secret behind `key` may join, until `expires_at` (ms since
/// the epoch) and at most `max_uses` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub key: DeviceKey,
    pub expires_at: u64,
    pub max_uses: u32,
    pub role: Role,
}

/// The signed list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessList {
    pub workspace: WorkspaceId,
    /// Strictly increasing: the relay refuses a list not newer than the one it holds.
    pub version: u64,
    pub members: Vec<Member>,
    pub invites: Vec<Invite>,
    /// The admin device that signed it.
    pub signer: DeviceKey,
    pub signature: [u8; 64],
}

impl AccessList {
    /// The bytes the signature covers (everything but the signature).
    pub fn signed_part(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(1).raw(&self.workspace).u64(self.version);
        w.count(self.members.len());
        for m in &self.members {
            w.raw(&m.device).raw(&m.user).u8(m.role as u8);
        }
        w.count(self.invites.len());
        for i in &self.invites {
            w.raw(&i.key)
                .u64(i.expires_at)
                .u32(i.max_uses)
                .u8(i.role as u8);
        }
        w.raw(&self.signer);
        w.buf
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.signed_part();
        v.extend_from_slice(&self.signature);
        v
    }

    pub fn decode(b: &[u8]) -> Result<AccessList, DecodeError> {
        let mut r = Reader::new(b);
        let format = r.u8("access list format")?;
        if format != 1 {
            return Err(DecodeError::BadValue {
                field: "access list format",
                value: u64::from(format),
            });
        }
        let workspace = r.array("workspace")?;
        let version = r.u64("version")?;
        let n = r.count("members", MAX_MEMBERS, 49)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            members.push(Member {
                device: r.array("member device")?,
                user: r.array("member user")?,
                role: Role::from_u8(r.u8("role")?)?,
            });
        }
        let n = r.count("invites", MAX_MEMBERS, 45)?;
        let mut invites = Vec::with_capacity(n);
        for _ in 0..n {
            invites.push(Invite {
                key: r.array("invite key")?,
                expires_at: r.u64("invite expiry")?,
                max_uses: r.u32("invite uses")?,
                role: Role::from_u8(r.u8("role")?)?,
            });
        }
        let signer = r.array("signer")?;
        let signature = r.array("signature")?;
        r.finish()?;
        Ok(AccessList {
            workspace,
            version,
            members,
            invites,
            signer,
            signature,
        })
    }

    /// The role of `device`, if it is on the list.
    pub fn role_of(&self, device: &DeviceKey) -> Option<Role> {
        self.members
            .iter()
            .find(|m| &m.device == device)
            .map(|m| m.role)
    }

    /// The open invite with this key.
    pub fn invite(&self, key: &DeviceKey) -> Option<&Invite> {
        self.invites.iter().find(|i| &i.key == key)
    }
}
