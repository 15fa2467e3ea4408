//! `cang admin account|user|key|policy`: identities in the metadata service. Access key secrets are
//! generated here, sealed through the crypto service, and shown once.

use anyhow::Context as _;
use cang_meta_api::{AccessKey, AccessKeyStatus, Account, IdentityStore, MetaApi, Policy, User};
use clap::Subcommand;
use serde_json::json;

use super::Connection;
use super::render::{ms_time, show};
use crate::cmd::instance::new_account_id;
use crate::cmd::output::{self, Table};

/// `cang admin account …`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account (prints its id).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Account id (default: a new 16-digit id).
        #[arg(long)]
        id: Option<String>,
    },
    /// List accounts.
    List,
}

/// `cang admin user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a RAM user.
    Create {
        /// User name.
        name: String,
    },
    /// List RAM users.
    List,
    /// Delete a RAM user with its access keys and policy attachments.
    Delete {
        /// User name.
        name: String,
    },
}

/// `cang admin key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an access key (the secret is printed once and never again).
    Create {
        /// RAM user owning the key (default: the account's root).
        #[arg(long)]
        user: Option<String>,
    },
    /// List access keys.
    List {
        /// Only this RAM user's keys.
        #[arg(long)]
        user: Option<String>,
    },
    /// Stop an access key from signing requests.
    Disable {
        /// Access key id.
        id: String,
    },
    /// Let a disabled access key sign requests again.
    Enable {
        /// Access key id.
        id: String,
    },
    /// Delete an access key.
    Delete {
        /// Access key id.
        id: String,
    },
}

/// `cang admin policy …`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create or replace a policy from a JSON document.
    Put {
        /// Policy name.
        name: String,
        /// File holding the policy document (`-` for stdin).
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Show a policy document.
    Get {
        /// Policy name.
        name: String,
    },
    /// List policies.
    List,
    /// Delete a policy attached to nobody.
    Delete {
        /// Policy name.
        name: String,
    },
    /// Attach a policy to a RAM user.
    Attach {
        /// Policy name.
        name: String,
        /// RAM user.
        #[arg(long)]
        user: String,
    },
    /// Detach a policy from a RAM user.
    Detach {
        /// Policy name.
        name: String,
        /// RAM user.
        #[arg(long)]
        user: String,
    },
}

/// Runs an account command.
pub async fn account(ctx: &Connection, cmd: AccountCommand) -> anyhow::Result<()> {
    let meta = ctx.meta()?;
    match cmd {
        AccountCommand::Create { name, id } => {
            let id = match id {
                Some(id) => id,
                None => new_account_id()?,
            };
            let account = meta
                .create_account(&id, &name)
                .await
                .context("creating the account")?;
            show(ctx, account_json(&account), || {
                format!("created account {} ({})", account.id, account.name)
            })
        }
        AccountCommand::List => {
            let accounts = meta.list_accounts().await.context("listing accounts")?;
            list(ctx, &accounts, account_json, &["ID", "NAME", "CREATED"], |a| {
                vec![a.id.clone(), a.name.clone(), ms_time(a.created_ms)]
            })
        }
    }
}

/// Runs a user command.
pub async fn user(ctx: &Connection, cmd: UserCommand) -> anyhow::Result<()> {
    let meta = ctx.meta()?;
    let account = ctx.account()?;
    match cmd {
        UserCommand::Create { name } => {
            let user = meta
                .create_user(account, &name)
                .await
                .context("creating the user")?;
            show(ctx, user_json(&user), || format!("created user {}", user.name))
        }
        UserCommand::List => {
            let users = meta.list_users(account).await.context("listing users")?;
            list(ctx, &users, user_json, &["NAME", "CREATED"], |u| {
                vec![u.name.clone(), ms_time(u.created_ms)]
            })
        }
        UserCommand::Delete { name } => {
            meta.delete_user(account, &name)
                .await
                .context("deleting the user")?;
            show(ctx, json!({ "deleted": name }), || format!("deleted user {name}"))
        }
    }
}

/// Runs an access key command.
pub async fn key(ctx: &Connection, cmd: KeyCommand) -> anyhow::Result<()> {
    let meta = ctx.meta()?;
    let account = ctx.account()?;
    match cmd {
        KeyCommand::Create { user } => {
            let kms = ctx.kms()?;
            let created = cang_access_keys::create_access_key(&kms, &meta, account, user.as_deref())
                .await
                .context("creating the access key")?;
            let value = json!({
                "access_key_id": created.access_key_id,
                "access_key_secret": created.access_key_secret.as_str(),
                "account_id": account,
                "user": user,
            });
            show(ctx, value, || {
                output::fields(&[
                    ("access key id", created.access_key_id.clone()),
                    ("access key secret", created.access_key_secret.to_string()),
                    ("", "(the secret is shown only now; store it safely)".to_owned()),
                ])
            })
        }
        KeyCommand::List { user } => {
            let keys = meta
                .list_access_keys(account, user.as_deref())
                .await
                .context("listing access keys")?;
            list(
                ctx,
                &keys,
                key_json,
                &["ACCESS KEY ID", "USER", "STATUS", "CREATED"],
                |k| {
                    vec![
                        k.id.clone(),
                        k.user.clone().unwrap_or_else(|| "(root)".to_owned()),
                        status_name(k.status).to_owned(),
                        ms_time(k.created_ms),
                    ]
                },
            )
        }
        KeyCommand::Disable { id } => set_status(ctx, &meta, account, &id, AccessKeyStatus::Inactive).await,
        KeyCommand::Enable { id } => set_status(ctx, &meta, account, &id, AccessKeyStatus::Active).await,
        KeyCommand::Delete { id } => {
            owned_key(&meta, account, &id).await?;
            meta.delete_access_key(&id)
                .await
                .context("deleting the access key")?;
            show(ctx, json!({ "deleted": id }), || {
                format!("deleted access key {id}")
            })
        }
    }
}

/// Runs a policy command.
pub async fn policy(ctx: &Connection, cmd: PolicyCommand) -> anyhow::Result<()> {
    let meta = ctx.meta()?;
    let account = ctx.account()?;
    match cmd {
        PolicyCommand::Put { name, file } => {
            let document = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading the policy from stdin")?
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
            };
            let policy = meta
                .put_policy(account, &name, &document)
                .await
                .context("storing the policy")?;
            show(ctx, policy_json(&policy), || {
                format!("stored policy {}", policy.name)
            })
        }
        PolicyCommand::Get { name } => {
            let policy = meta
                .get_policy(account, &name)
                .await
                .context("reading the policy")?;
            show(ctx, policy_json(&policy), || policy.document.clone())
        }
        PolicyCommand::List => {
            let policies = meta.list_policies(account).await.context("listing policies")?;
            list(ctx, &policies, policy_json, &["NAME", "CREATED"], |p| {
                vec![p.name.clone(), ms_time(p.created_ms)]
            })
        }
        PolicyCommand::Delete { name } => {
            meta.delete_policy(account, &name)
                .await
                .context("deleting the policy")?;
            show(ctx, json!({ "deleted": name }), || {
                format!("deleted policy {name}")
            })
        }
        PolicyCommand::Attach { name, user } => {
            meta.attach_policy(account, &user, &name)
                .await
                .context("attaching the policy")?;
            show(
                ctx,
                json!({ "policy": name, "user": user, "attached": true }),
                || format!("attached policy {name} to user {user}"),
            )
        }
        PolicyCommand::Detach { name, user } => {
            meta.detach_policy(account, &user, &name)
                .await
                .context("detaching the policy")?;
            show(
                ctx,
                json!({ "policy": name, "user": user, "attached": false }),
                || format!("detached policy {name} from user {user}"),
            )
        }
    }
}

/// Refuses to touch an access key of another account than the one acted on.
async fn owned_key(meta: &dyn MetaApi, account: &str, id: &str) -> anyhow::Result<AccessKey> {
    let key = meta.get_access_key(id).await.context("reading the access key")?;
    if key.account_id != account {
        anyhow::bail!("access key {id} does not belong to account {account}");
    }
    Ok(key)
}

async fn set_status(
    ctx: &Connection,
    meta: &dyn MetaApi,
    account: &str,
    id: &str,
    status: AccessKeyStatus,
) -> anyhow::Result<()> {
    owned_key(meta, account, id).await?;
    let key = meta
        .set_access_key_status(id, status)
        .await
        .context("changing the access key status")?;
    show(ctx, key_json(&key), || {
        format!("access key {} is {}", key.id, status_name(key.status))
    })
}

fn list<T>(
    ctx: &Connection,
    items: &[T],
    to_json: fn(&T) -> serde_json::Value,
    headers: &[&str],
    to_row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(&serde_json::Value::Array(items.iter().map(to_json).collect()));
    }
    let mut table = Table::new(headers);
    for item in items {
        table.row(to_row(item));
    }
    table.print()
}

fn status_name(status: AccessKeyStatus) -> &'static str {
    match status {
        AccessKeyStatus::Active => "Active",
        AccessKeyStatus::Inactive => "Inactive",
    }
}

fn account_json(a: &Account) -> serde_json::Value {
    json!({ "id": a.id, "name": a.name, "created_ms": a.created_ms })
}

fn user_json(u: &User) -> serde_json::Value {
    json!({ "account_id": u.account_id, "name": u.name, "created_ms": u.created_ms })
}

/// Never includes the sealed secret.
fn key_json(k: &AccessKey) -> serde_json::Value {
    json!({
        "access_key_id": k.id,
        "account_id": k.account_id,
        "user": k.user,
        "status": status_name(k.status),
        "created_ms": k.created_ms,
    })
}

fn policy_json(p: &Policy) -> serde_json::Value {
    json!({ "account_id": p.account_id, "name": p.name, "document": p.document, "created_ms": p.created_ms })
}
