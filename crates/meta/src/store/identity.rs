//! Identities: accounts, RAM users, access keys (sealed secrets only), policies and their
//! attachments to users, and the access-key lookup every signed request starts with.

use cang_meta_api::{AccessKey, AccessKeyStatus, Account, MetaError, NewAccessKey, Policy, User};
use redb::{ReadableTable, WriteTransaction};

use super::Store;
use super::tables::{
    ACCESS_KEYS, ACCOUNTS, ATTACHMENTS, CONSOLE_REVOCATIONS, DbResult, POLICIES, USERS, decode, encode,
    now_ms,
};

/// Identifiers (account ids, user and policy names, access key ids) are 1–128 printable ASCII
/// characters without spaces.
fn validate_id(kind: &str, id: &str) -> Result<(), MetaError> {
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(MetaError::InvalidArgument(format!(
            "{kind} must be 1-128 printable ASCII characters"
        )));
    }
    Ok(())
}

/// Validates a policy document with the RAM policy parser, as a policy to attach to users (no `Principal`); a
/// refusal carries the parser's message.
pub fn validate_policy_document(document: &str) -> Result<(), MetaError> {
    cang_policy::Policy::parse_identity(document)
        .map(drop)
        .map_err(|e| MetaError::MalformedPolicy(e.to_string()))
}

impl Store {
    /// Creates an account.
    pub fn create_account(&self, id: &str, name: &str) -> Result<Account, MetaError> {
        validate_id("account id", id)?;
        let account = Account {
            id: id.to_owned(),
            name: name.to_owned(),
            created_ms: now_ms(),
        };
        let (record, out) = (encode(&account)?, account.clone());
        self.writer().write(true, move |txn| {
            let mut accounts = txn.open_table(ACCOUNTS).db()?;
            if accounts.get(account.id.as_str()).db()?.is_some() {
                return Err(MetaError::AlreadyExists(format!("account {}", account.id)));
            }
            accounts.insert(account.id.as_str(), record.as_slice()).db()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads an account.
    pub fn get_account(&self, id: &str) -> Result<Account, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(ACCOUNTS).db()?;
        let guard = table.get(id).db()?.ok_or(MetaError::NoSuchAccount)?;
        decode(guard.value())
    }

    /// Lists all accounts in id order.
    pub fn list_accounts(&self) -> Result<Vec<Account>, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(ACCOUNTS).db()?;
        table.iter().db()?.map(|e| decode(e.db()?.1.value())).collect()
    }

    /// Creates a RAM user in an account.
    pub fn create_user(&self, account_id: &str, name: &str) -> Result<User, MetaError> {
        validate_id("user name", name)?;
        let user = User {
            account_id: account_id.to_owned(),
            name: name.to_owned(),
            created_ms: now_ms(),
        };
        let (record, out) = (encode(&user)?, user.clone());
        self.writer().write(true, move |txn| {
            require_account(txn, &user.account_id)?;
            let mut users = txn.open_table(USERS).db()?;
            if users
                .get((user.account_id.as_str(), user.name.as_str()))
                .db()?
                .is_some()
            {
                return Err(MetaError::AlreadyExists(format!("user {}", user.name)));
            }
            users
                .insert((user.account_id.as_str(), user.name.as_str()), record.as_slice())
                .db()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Lists an account's users in name order.
    pub fn list_users(&self, account_id: &str) -> Result<Vec<User>, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(USERS).db()?;
        let mut out = Vec::new();
        for e in table.range((account_id, "")..).db()? {
            let (k, v) = e.db()?;
            if k.value().0 != account_id {
                break;
            }
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    /// Deletes a user together with its access keys and policy attachments.
    pub fn delete_user(&self, account_id: &str, name: &str) -> Result<(), MetaError> {
        let (account_id, name) = (account_id.to_owned(), name.to_owned());
        self.writer().write(true, move |txn| {
            let mut users = txn.open_table(USERS).db()?;
            if users.remove((account_id.as_str(), name.as_str())).db()?.is_none() {
                return Err(MetaError::NoSuchUser);
            }
            drop(users);
            let mut keys = txn.open_table(ACCESS_KEYS).db()?;
            keys.retain(|_, v| {
                decode::<AccessKey>(v).map_or(true, |k| {
                    !(k.account_id == account_id && k.user.as_deref() == Some(&name))
                })
            })
            .db()?;
            drop(keys);
            let mut attachments = txn.open_table(ATTACHMENTS).db()?;
            attachments
                .retain(|(a, u, _), ()| !(a == account_id && u == name))
                .db()?;
            Ok(())
        })
    }

    /// Registers an access key whose secret the caller has already sealed.
    pub fn create_access_key(&self, new: NewAccessKey) -> Result<AccessKey, MetaError> {
        validate_id("access key id", &new.id)?;
        let key = AccessKey {
            id: new.id,
            account_id: new.account_id,
            user: new.user,
            sealed_secret: new.sealed_secret,
            status: AccessKeyStatus::Active,
            created_ms: now_ms(),
        };
        let (record, out) = (encode(&key)?, key.clone());
        self.writer().write(true, move |txn| {
            require_account(txn, &key.account_id)?;
            if let Some(user) = &key.user {
                require_user(txn, &key.account_id, user)?;
            }
            let mut keys = txn.open_table(ACCESS_KEYS).db()?;
            if keys.get(key.id.as_str()).db()?.is_some() {
                return Err(MetaError::AlreadyExists(format!("access key {}", key.id)));
            }
            keys.insert(key.id.as_str(), record.as_slice()).db()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Looks up an access key by id (the first step of verifying a signed request).
    pub fn get_access_key(&self, id: &str) -> Result<AccessKey, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(ACCESS_KEYS).db()?;
        let guard = table.get(id).db()?.ok_or(MetaError::NoSuchAccessKey)?;
        decode(guard.value())
    }

    /// Lists an account's access keys, optionally only those of one user (`Some("")` is not a
    /// user; use `None` for all keys).
    pub fn list_access_keys(
        &self,
        account_id: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKey>, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(ACCESS_KEYS).db()?;
        let mut out = Vec::new();
        for e in table.iter().db()? {
            let key: AccessKey = decode(e.db()?.1.value())?;
            if key.account_id == account_id && user.is_none_or(|u| key.user.as_deref() == Some(u)) {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// Activates or deactivates an access key.
    pub fn set_access_key_status(&self, id: &str, status: AccessKeyStatus) -> Result<AccessKey, MetaError> {
        let id = id.to_owned();
        self.writer().write(true, move |txn| {
            let mut table = txn.open_table(ACCESS_KEYS).db()?;
            let mut key: AccessKey = decode(
                table
                    .get(id.as_str())
                    .db()?
                    .ok_or(MetaError::NoSuchAccessKey)?
                    .value(),
            )?;
            key.status = status;
            table.insert(id.as_str(), encode(&key)?.as_slice()).db()?;
            Ok(key)
        })
    }

    /// Deletes an access key.
    pub fn delete_access_key(&self, id: &str) -> Result<(), MetaError> {
        let id = id.to_owned();
        self.writer().write(true, move |txn| {
            match txn.open_table(ACCESS_KEYS).db()?.remove(id.as_str()).db()? {
                Some(_) => Ok(()),
                None => Err(MetaError::NoSuchAccessKey),
            }
        })
    }

    /// Creates or replaces a policy after validating its document.
    pub fn put_policy(&self, account_id: &str, name: &str, document: &str) -> Result<Policy, MetaError> {
        validate_id("policy name", name)?;
        validate_policy_document(document)?;
        let policy = Policy {
            account_id: account_id.to_owned(),
            name: name.to_owned(),
            document: document.to_owned(),
            created_ms: now_ms(),
        };
        let (record, out) = (encode(&policy)?, policy.clone());
        self.writer().write(true, move |txn| {
            require_account(txn, &policy.account_id)?;
            txn.open_table(POLICIES)
                .db()?
                .insert(
                    (policy.account_id.as_str(), policy.name.as_str()),
                    record.as_slice(),
                )
                .db()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads a policy.
    pub fn get_policy(&self, account_id: &str, name: &str) -> Result<Policy, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(POLICIES).db()?;
        let guard = table
            .get((account_id, name))
            .db()?
            .ok_or(MetaError::NoSuchPolicy)?;
        decode(guard.value())
    }

    /// Lists an account's policies in name order.
    pub fn list_policies(&self, account_id: &str) -> Result<Vec<Policy>, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(POLICIES).db()?;
        let mut out = Vec::new();
        for e in table.range((account_id, "")..).db()? {
            let (k, v) = e.db()?;
            if k.value().0 != account_id {
                break;
            }
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    /// Deletes a policy that is attached to no user.
    pub fn delete_policy(&self, account_id: &str, name: &str) -> Result<(), MetaError> {
        let (account_id, name) = (account_id.to_owned(), name.to_owned());
        self.writer().write(true, move |txn| {
            let attachments = txn.open_table(ATTACHMENTS).db()?;
            for e in attachments.range((account_id.as_str(), "", "")..).db()? {
                let (k, _) = e.db()?;
                let (a, user, policy) = k.value();
                if a != account_id {
                    break;
                }
                if policy == name {
                    return Err(MetaError::Conflict(format!(
                        "policy {name} is attached to user {user}"
                    )));
                }
            }
            drop(attachments);
            match txn
                .open_table(POLICIES)
                .db()?
                .remove((account_id.as_str(), name.as_str()))
                .db()?
            {
                Some(_) => Ok(()),
                None => Err(MetaError::NoSuchPolicy),
            }
        })
    }

    /// Attaches a policy to a user (idempotent).
    pub fn attach_policy(&self, account_id: &str, user: &str, policy: &str) -> Result<(), MetaError> {
        let (a, u, p) = (account_id.to_owned(), user.to_owned(), policy.to_owned());
        self.writer().write(true, move |txn| {
            require_user(txn, &a, &u)?;
            if txn
                .open_table(POLICIES)
                .db()?
                .get((a.as_str(), p.as_str()))
                .db()?
                .is_none()
            {
                return Err(MetaError::NoSuchPolicy);
            }
            txn.open_table(ATTACHMENTS)
                .db()?
                .insert((a.as_str(), u.as_str(), p.as_str()), ())
                .db()?;
            Ok(())
        })
    }

    /// Detaches a policy from a user.
    pub fn detach_policy(&self, account_id: &str, user: &str, policy: &str) -> Result<(), MetaError> {
        let (a, u, p) = (account_id.to_owned(), user.to_owned(), policy.to_owned());
        self.writer().write(true, move |txn| {
            match txn
                .open_table(ATTACHMENTS)
                .db()?
                .remove((a.as_str(), u.as_str(), p.as_str()))
                .db()?
            {
                Some(_) => Ok(()),
                None => Err(MetaError::NoSuchPolicy),
            }
        })
    }

    /// Records a signed-out console session until `until_ms`, and forgets those past their own time.
    pub fn revoke_console_session(&self, id: [u8; 16], until_ms: u64) -> Result<(), MetaError> {
        self.writer().write(true, move |txn| {
            let mut table = txn.open_table(CONSOLE_REVOCATIONS).db()?;
            let now = now_ms();
            let mut expired = Vec::new();
            for entry in table.iter().db()? {
                let (k, v) = entry.db()?;
                if v.value() <= now {
                    expired.push(k.value().to_vec());
                }
                // Bounded work per revocation; the rest goes with later ones.
                if expired.len() >= 256 {
                    break;
                }
            }
            for key in expired {
                table.remove(key.as_slice()).db()?;
            }
            table.insert(id.as_slice(), until_ms).db()?;
            Ok(())
        })
    }

    /// Whether a console session was signed out (and its record has not expired).
    pub fn console_session_revoked(&self, id: [u8; 16]) -> Result<bool, MetaError> {
        let txn = self.read()?;
        let table = txn.open_table(CONSOLE_REVOCATIONS).db()?;
        let until = table.get(id.as_slice()).db()?.map(|v| v.value());
        Ok(until.is_some_and(|until| until > now_ms()))
    }

    /// The policies attached to a user, in name order.
    pub fn user_policies(&self, account_id: &str, user: &str) -> Result<Vec<Policy>, MetaError> {
        let txn = self.read()?;
        let attachments = txn.open_table(ATTACHMENTS).db()?;
        let policies = txn.open_table(POLICIES).db()?;
        let mut out = Vec::new();
        for e in attachments.range((account_id, user, "")..).db()? {
            let (k, _) = e.db()?;
            let (a, u, name) = k.value();
            if a != account_id || u != user {
                break;
            }
            let guard = policies.get((a, name)).db()?.ok_or(MetaError::NoSuchPolicy)?;
            out.push(decode(guard.value())?);
        }
        Ok(out)
    }
}

fn require_account(txn: &WriteTransaction, id: &str) -> Result<(), MetaError> {
    match txn.open_table(ACCOUNTS).db()?.get(id).db()? {
        Some(_) => Ok(()),
        None => Err(MetaError::NoSuchAccount),
    }
}

fn require_user(txn: &WriteTransaction, account_id: &str, name: &str) -> Result<(), MetaError> {
    match txn.open_table(USERS).db()?.get((account_id, name)).db()? {
        Some(_) => Ok(()),
        None => Err(MetaError::NoSuchUser),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_out_console_session_stays_revoked_until_its_time() -> Result<(), MetaError> {
        let store = Store::in_memory()?;
        let now = now_ms();
        assert!(!store.console_session_revoked([1; 16])?);
        store.revoke_console_session([1; 16], now + 60_000)?;
        assert!(store.console_session_revoked([1; 16])?);
        assert!(!store.console_session_revoked([2; 16])?);
        // A record past its time says nothing, and the next revocation drops it.
        store.revoke_console_session([3; 16], now.saturating_sub(1))?;
        assert!(!store.console_session_revoked([3; 16])?);
        store.revoke_console_session([4; 16], now + 60_000)?;
        let txn = store.read()?;
        let table = txn.open_table(CONSOLE_REVOCATIONS).db()?;
        assert!(table.get([3u8; 16].as_slice()).db()?.is_none());
        assert!(table.get([1u8; 16].as_slice()).db()?.is_some());
        Ok(())
    }
}
