//! The pages, rendered on the server. Every string that comes from a user or a request (bucket names,
//! object keys, messages, key descriptions) goes through maud's escaping, and keys are shown with their
//! control and bidirectional-formatting characters spelled out, so a key reads as what it is.

use maud::{DOCTYPE, Markup, html};

use crate::kms::KeySummary;
use crate::text::{Lang, T, t};

/// What the header of a signed-in page shows.
#[derive(Debug, Clone)]
pub struct Chrome<'a> {
    /// The language.
    pub lang: Lang,
    /// The signed-in access key id (none on the sign-in page).
    pub access_key_id: Option<&'a str>,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// The path the language switch comes back to.
    pub here: &'a str,
}

/// A bucket's default encryption as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// No default / not encrypted.
    None,
    /// `AES256`, `SM4` or `KMS`, with the key id and data cipher of KMS.
    Sse {
        /// The algorithm.
        algorithm: String,
        /// The CMK, when KMS names one.
        key_id: Option<String>,
        /// `SM4` when KMS encrypts data with SM4.
        data: Option<String>,
    },
    /// The caller may not read it (the permission named).
    Hidden(String),
}

impl Encryption {
    fn render(&self, lang: Lang) -> Markup {
        match self {
            Self::None => html! { span.enc.none { (t(lang, T::None)) } },
            Self::Sse {
                algorithm,
                key_id,
                data,
            } => html! {
                span.enc.on {
                    (algorithm)
                    @if let Some(data) = data { " / " (data) }
                    @if let Some(key) = key_id { " " code.key-id { (key) } }
                    @else if algorithm == "KMS" { " " code.key-id { "alias/acs/oss" } }
                }
            },
            Self::Hidden(permission) => html! {
                span.enc.hidden { (t(lang, T::MissingPermission)) " " (permission) }
            },
        }
    }
}

/// A key with control and bidirectional-formatting characters written out as `\u{…}`.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if hidden {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The page frame: head, header with the signed-in identity, language switch and sign-out.
pub fn page(chrome: &Chrome<'_>, title: &str, body: Markup) -> Markup {
    let lang = chrome.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(chrome.csrf);
                title { (title) " · " (t(lang, T::Title)) }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body data-lang=(lang.code())
                data-t-loading=(t(lang, T::LoadingKeys))
                data-t-nokeys=(t(lang, T::NoKeys))
                data-t-missing=(t(lang, T::MissingPermission))
                data-t-default-key=(t(lang, T::DefaultManagedKey))
                data-t-upload-done=(t(lang, T::UploadDone))
                data-t-upload-failed=(t(lang, T::UploadFailed))
                data-t-delete-confirm=(t(lang, T::DeleteConfirm)) {
                header.top {
                    a.brand href="/" { (t(lang, T::Title)) }
                    nav {
                        @if chrome.access_key_id.is_some() {
                            a href="/" { (t(lang, T::Buckets)) }
                            a href="/keys" { (t(lang, T::Keys)) }
                            a href="/ram" { (t(lang, T::Ram)) }
                        }
                    }
                    div.who {
                        a.lang href={ "/lang?to=" (lang.other().code()) "&next=" (url_query(chrome.here)) } {
                            (t(lang.other(), T::LanguageName))
                        }
                        @if let Some(id) = chrome.access_key_id {
                            span { (t(lang, T::SignedInAs)) ": " code id="who" { (id) } }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(chrome.csrf);
                                button type="submit" #sign-out { (t(lang, T::SignOut)) }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The sign-in page.
pub fn sign_in(lang: Lang, problem: Option<&str>) -> Markup {
    let chrome = Chrome {
        lang,
        access_key_id: None,
        csrf: "",
        here: "/login",
    };
    page(
        &chrome,
        t(lang, T::SignIn),
        html! {
            section.card.narrow {
                h1 { (t(lang, T::SignIn)) }
                p.hint { (t(lang, T::SignInHint)) }
                @if let Some(problem) = problem { p.error role="alert" #login-error { (problem) } }
                form method="post" action="/login" #login {
                    label { (t(lang, T::AccessKeyId)) input type="text" name="access_key_id" autocomplete="username" required; }
                    label { (t(lang, T::AccessKeySecret)) input type="password" name="access_key_secret" autocomplete="current-password" required; }
                    button.primary type="submit" { (t(lang, T::SignIn)) }
                }
            }
        },
    )
}

/// One row of the bucket list.
#[derive(Debug, Clone)]
pub struct BucketRow {
    /// Name.
    pub name: String,
    /// Region / location.
    pub region: String,
    /// Creation date as OSS reports it.
    pub created: String,
    /// Default encryption.
    pub encryption: Encryption,
}

/// What the create dialog shows again after a refusal.
#[derive(Debug, Clone, Default)]
pub struct CreateForm {
    /// The name typed.
    pub name: String,
    /// The encryption chosen (`none`, `AES256`, `SM4`, `KMS`).
    pub sse: String,
    /// The refusal.
    pub problem: Option<String>,
}

/// The bucket list with the Create Bucket dialog (opened at once when `form` carries a refusal).
pub fn buckets(chrome: &Chrome<'_>, rows: &[BucketRow], problem: Option<&str>, form: &CreateForm) -> Markup {
    let lang = chrome.lang;
    html! {
        section.card {
            div.bar {
                h1 { (t(lang, T::Buckets)) }
                button.primary type="button" #create-bucket data-open="create-dialog" { (t(lang, T::CreateBucket)) }
            }
            @if let Some(problem) = problem { p.error role="alert" { (problem) } }
            @if rows.is_empty() {
                p.empty { (t(lang, T::NoBuckets)) }
            } @else {
                table #bucket-list {
                    thead { tr {
                        th { (t(lang, T::BucketName)) } th { (t(lang, T::Region)) }
                        th { (t(lang, T::Created)) } th { (t(lang, T::DefaultEncryption)) } th { (t(lang, T::Actions)) }
                    } }
                    tbody {
                        @for row in rows {
                            tr data-bucket=(row.name) {
                                td { a href={ "/b/" (row.name) "/" } { (row.name) } }
                                td { (row.region) }
                                td { (row.created) }
                                td.encryption { (row.encryption.render(lang)) }
                                td { a href={ "/b/" (row.name) "/settings" } { (t(lang, T::BasicSettings)) } }
                            }
                        }
                    }
                }
            }
        }
        dialog #create-dialog data-show=[form.problem.as_ref().map(|_| "1")] {
            form method="post" action="/buckets" #create-form {
                h2 { (t(lang, T::CreateBucket)) }
                input type="hidden" name="csrf" value=(chrome.csrf);
                @if let Some(problem) = &form.problem { p.error role="alert" #create-error { (problem) } }
                label { (t(lang, T::BucketName))
                    input type="text" name="name" value=(form.name) required minlength="3" maxlength="63"
                        pattern="[a-z0-9][a-z0-9-]{1,61}[a-z0-9]";
                }
                p.hint { (t(lang, T::BucketNameHint)) }
                (sse_fields(lang, if form.sse.is_empty() { "none" } else { &form.sse }, None, None))
                div.buttons {
                    button type="button" data-close="create-dialog" { (t(lang, T::Cancel)) }
                    button.primary type="submit" #create-ok { (t(lang, T::Ok)) }
                }
            }
        }
    }
}

/// The server-side encryption choice: None / AES256 / SM4 / KMS, and for KMS the key picker (filled by the
/// script from `/api/keys`, which shows a missing permission in place) and the data cipher.
fn sse_fields(lang: Lang, chosen: &str, key: Option<&str>, data: Option<&str>) -> Markup {
    let choice = |value: &str, label: &str| {
        html! {
            label.choice {
                input type="radio" name="sse" value=(value) checked[chosen == value];
                (label)
            }
        }
    };
    html! {
        fieldset.sse {
            legend { (t(lang, T::ServerSideEncryption)) }
            (choice("none", t(lang, T::None)))
            (choice("AES256", "AES256"))
            (choice("SM4", "SM4"))
            (choice("KMS", "KMS"))
            div.kms-only hidden[chosen != "KMS"] {
                label { (t(lang, T::KmsKey))
                    select name="key" data-keys="/api/keys" data-selected=[key] {
                        option value="" { (t(lang, T::DefaultManagedKey)) }
                    }
                }
                p.key-status aria-live="polite" {}
                label { (t(lang, T::DataEncryption))
                    select name="data" {
                        option value="" selected[data.is_none()] { "AES256" }
                        option value="SM4" selected[data == Some("SM4")] { "SM4" }
                    }
                }
            }
        }
    }
}

/// Basic Settings of a bucket: the Server-side encryption panel (current rule, Set → choice → Save).
pub fn settings(
    chrome: &Chrome<'_>,
    bucket: &str,
    current: &Encryption,
    saved: bool,
    problem: Option<&str>,
) -> Markup {
    let lang = chrome.lang;
    let (sse, key, data) = match current {
        Encryption::Sse {
            algorithm,
            key_id,
            data,
        } => (algorithm.as_str(), key_id.as_deref(), data.as_deref()),
        _ => ("none", None, None),
    };
    let open = problem.is_some();
    html! {
        p.crumbs { a href="/" { (t(lang, T::Buckets)) } " / " a href={ "/b/" (bucket) "/" } { (bucket) } " / " (t(lang, T::BasicSettings)) }
        section.card #sse-panel {
            h1 { (t(lang, T::BasicSettings)) }
            h2 { (t(lang, T::ServerSideEncryption)) }
            @if saved { p.ok role="status" #saved { (t(lang, T::Saved)) } }
            @if let Some(problem) = problem { p.error role="alert" #save-error { (problem) } }
            div.current hidden[open] {
                p { (t(lang, T::EncryptionAlgorithm)) ": " span #current-sse { (current.render(lang)) } }
                button type="button" #sse-set data-toggle="sse-form" { (t(lang, T::Set)) }
            }
            form method="post" action={ "/b/" (bucket) "/encryption" } #sse-form hidden[!open] {
                input type="hidden" name="csrf" value=(chrome.csrf);
                (sse_fields(lang, sse, key, data))
                p.note { (t(lang, T::ExistingObjectsNote)) }
                div.buttons {
                    button type="button" data-toggle="sse-form" { (t(lang, T::Cancel)) }
                    button.primary type="submit" #sse-save { (t(lang, T::Save)) }
                }
            }
            p.note { (t(lang, T::ExistingObjectsNote)) }
        }
    }
}

/// One object or folder of a listing.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A common prefix.
    Folder(String),
    /// An object.
    Object {
        /// Key.
        key: String,
        /// Size in bytes.
        size: u64,
        /// Last modified, as OSS reports it.
        modified: String,
        /// How it is encrypted.
        encryption: Encryption,
    },
}

/// The object browser of one bucket at `prefix`.
pub fn objects(
    chrome: &Chrome<'_>,
    bucket: &str,
    prefix: &str,
    entries: &[Entry],
    next_marker: Option<&str>,
    problem: Option<&str>,
    part_size: u64,
) -> Markup {
    let lang = chrome.lang;
    let parent = prefix
        .trim_end_matches('/')
        .rfind('/')
        .map_or(String::new(), |i| prefix[..=i].to_owned());
    html! {
        p.crumbs { a href="/" { (t(lang, T::Buckets)) } " / " a href={ "/b/" (bucket) "/" } { (bucket) }
            @if !prefix.is_empty() { " / " bdi { (visible(prefix)) } }
            " · " a href={ "/b/" (bucket) "/settings" } #settings-link { (t(lang, T::BasicSettings)) } }
        section.card {
            div.bar {
                h1 { (t(lang, T::Objects)) }
                form.upload #upload data-bucket=(bucket) data-prefix=(prefix) data-part-size=(part_size) {
                    input type="file" #upload-file multiple;
                    button.primary type="submit" #upload-start { (t(lang, T::Upload)) }
                }
            }
            div #uploads {}
            @if let Some(problem) = problem { p.error role="alert" { (problem) } }
            @if !prefix.is_empty() {
                p { a href={ "/b/" (bucket) "/?prefix=" (url_query(&parent)) } { "↰ " (t(lang, T::Parent)) } }
            }
            @if entries.is_empty() {
                p.empty { (t(lang, T::Empty)) }
            } @else {
                table #object-list {
                    thead { tr {
                        th { (t(lang, T::ObjectName)) } th { (t(lang, T::Size)) }
                        th { (t(lang, T::LastModified)) } th { (t(lang, T::Encryption)) } th { (t(lang, T::Actions)) }
                    } }
                    tbody {
                        @for entry in entries {
                            @match entry {
                                Entry::Folder(p) => {
                                    tr.folder {
                                        td colspan="5" { a href={ "/b/" (bucket) "/?prefix=" (url_query(p)) } {
                                            "📁 " bdi { (visible(&p[prefix.len().min(p.len())..])) } } }
                                    }
                                }
                                Entry::Object { key, size, modified, encryption } => {
                                    tr data-key=(key) {
                                        td.key { bdi { (visible(&key[prefix.len().min(key.len())..])) } }
                                        td.num { (size) }
                                        td { (modified) }
                                        td.encryption { (encryption.render(lang)) }
                                        td.actions {
                                            a href={ "/b/" (bucket) "/object?key=" (url_query(key)) } download { (t(lang, T::Download)) }
                                            form.inline.delete method="post" action={ "/b/" (bucket) "/delete" } {
                                                input type="hidden" name="csrf" value=(chrome.csrf);
                                                input type="hidden" name="key" value=(key);
                                                input type="hidden" name="prefix" value=(prefix);
                                                button type="submit" { (t(lang, T::Delete)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(marker) = next_marker {
                p { a #next-page href={ "/b/" (bucket) "/?prefix=" (url_query(prefix)) "&marker=" (url_query(marker)) } { (t(lang, T::NextPage)) " →" } }
            }
        }
    }
}

/// The KMS key list with the Create key form.
pub fn keys(chrome: &Chrome<'_>, keys: &[KeySummary], problem: Option<&str>) -> Markup {
    let lang = chrome.lang;
    html! {
        section.card {
            div.bar {
                h1 { (t(lang, T::Keys)) }
                button.primary type="button" #create-key data-open="create-key-dialog" { (t(lang, T::CreateKey)) }
            }
            @if let Some(problem) = problem { p.error role="alert" #keys-error { (problem) } }
            table #key-list {
                thead { tr {
                    th { "KeyId" } th { (t(lang, T::Aliases)) } th { (t(lang, T::KeySpec)) }
                    th { (t(lang, T::KeyState)) } th { (t(lang, T::Description)) } th { (t(lang, T::Actions)) }
                } }
                tbody {
                    @for key in keys {
                        tr data-key-id=(key.id) {
                            td { code { (key.id) } }
                            td { @for alias in &key.aliases { div { (alias) } } }
                            td { (key.spec) }
                            td.state { (key.state) }
                            td { (key.description) }
                            td { a href={ "/keys/" (url_query(&key.id)) } { (t(lang, T::Details)) } }
                        }
                    }
                }
            }
        }
        dialog #create-key-dialog {
            form method="post" action="/keys" #create-key-form {
                h2 { (t(lang, T::CreateKey)) }
                input type="hidden" name="csrf" value=(chrome.csrf);
                label { (t(lang, T::Description)) input type="text" name="description" maxlength="8192"; }
                label { (t(lang, T::KeySpec))
                    select name="spec" {
                        option value="Aliyun_AES_256" { "Aliyun_AES_256" }
                        option value="Aliyun_SM4" { "Aliyun_SM4" }
                    }
                }
                label.choice { input type="checkbox" name="rotation" value="on"; (t(lang, T::AutomaticRotation)) }
                label { (t(lang, T::RotationDays)) input type="text" name="days" value="365" inputmode="numeric"; }
                div.buttons {
                    button type="button" data-close="create-key-dialog" { (t(lang, T::Cancel)) }
                    button.primary type="submit" #create-key-ok { (t(lang, T::Ok)) }
                }
            }
        }
    }
}

/// One key as its page shows it (from `DescribeKey`, `ListKeyVersions`, `ListAliasesByKeyId`).
#[derive(Debug, Clone, Default)]
pub struct KeyDetail {
    /// Key id.
    pub id: String,
    /// `KeyMetadata` fields shown as they are: state, spec, origin, description, dates, rotation.
    pub state: String,
    /// Spec.
    pub spec: String,
    /// Description.
    pub description: String,
    /// Created.
    pub created: String,
    /// Pending deletion until.
    pub deletion_date: String,
    /// The primary version.
    pub primary_version: String,
    /// Whether automatic rotation is on.
    pub rotation: bool,
    /// The rotation interval in days, when on.
    pub rotation_days: Option<u64>,
    /// Last and next rotation.
    pub last_rotation: String,
    /// Next rotation.
    pub next_rotation: String,
    /// Versions: id and creation date.
    pub versions: Vec<(String, String)>,
    /// Aliases.
    pub aliases: Vec<String>,
}

/// A key's page: its state and versions, and the forms that change them.
pub fn key(chrome: &Chrome<'_>, key: &KeyDetail, done: bool, problem: Option<&str>) -> Markup {
    let lang = chrome.lang;
    let action = |name: &str| format!("/keys/{}/{name}", url_query(&key.id));
    let button = |name: &str, label: T, id: &str| {
        html! {
            form.inline method="post" action=(action(name)) {
                input type="hidden" name="csrf" value=(chrome.csrf);
                button type="submit" id=(id) { (t(lang, label)) }
            }
        }
    };
    html! {
        p.crumbs { a href="/keys" { (t(lang, T::Keys)) } " / " code { (key.id) } }
        section.card #key-panel {
            h1 { code { (key.id) } }
            @if done { p.ok role="status" #done { (t(lang, T::Done)) } }
            @if let Some(problem) = problem { p.error role="alert" #key-error { (problem) } }
            table.facts {
                tr { th { (t(lang, T::KeyState)) } td #key-state { (key.state) } }
                tr { th { (t(lang, T::KeySpec)) } td { (key.spec) } }
                tr { th { (t(lang, T::Description)) } td { (key.description) } }
                tr { th { (t(lang, T::Created)) } td { (key.created) } }
                tr { th { (t(lang, T::Aliases)) } td #key-aliases { @for alias in &key.aliases { div { (alias) } } } }
                tr { th { (t(lang, T::PrimaryVersion)) } td { code { (key.primary_version) } } }
                tr { th { (t(lang, T::AutomaticRotation)) } td #key-rotation {
                    @if key.rotation { (t(lang, T::Enable)) @if let Some(days) = key.rotation_days { " · " (days) "d" } }
                    @else { (t(lang, T::Disable)) }
                } }
                tr { th { (t(lang, T::LastRotation)) } td { (key.last_rotation) } }
                @if !key.next_rotation.is_empty() { tr { th { (t(lang, T::NextRotation)) } td { (key.next_rotation) } } }
                @if !key.deletion_date.is_empty() { tr { th { (t(lang, T::DeletionDate)) } td #key-deletion { (key.deletion_date) } } }
            }
            div.actions-row {
                @if key.state == "Enabled" { (button("disable", T::Disable, "key-disable")) }
                @if key.state == "Disabled" { (button("enable", T::Enable, "key-enable")) }
                @if key.state == "PendingDeletion" { (button("cancel-deletion", T::CancelDeletion, "key-cancel-deletion")) }
                @if key.state == "Enabled" { (button("rotate", T::RotateNow, "key-rotate")) }
            }
            @if key.state != "PendingDeletion" {
                form method="post" action=(action("schedule-deletion")) #key-schedule {
                    h2 { (t(lang, T::ScheduleDeletion)) }
                    input type="hidden" name="csrf" value=(chrome.csrf);
                    label { (t(lang, T::PendingDays)) input type="text" name="days" value="30" inputmode="numeric"; }
                    button type="submit" #key-schedule-ok { (t(lang, T::ScheduleDeletion)) }
                }
            }
            form method="post" action=(action("rotation-policy")) #key-rotation-form {
                h2 { (t(lang, T::AutomaticRotation)) }
                input type="hidden" name="csrf" value=(chrome.csrf);
                label.choice { input type="checkbox" name="rotation" value="on" checked[key.rotation]; (t(lang, T::AutomaticRotation)) }
                label { (t(lang, T::RotationDays)) input type="text" name="days" value=(key.rotation_days.unwrap_or(365)) inputmode="numeric"; }
                button type="submit" #key-rotation-save { (t(lang, T::Save)) }
            }
            form method="post" action=(action("alias")) #key-alias-form {
                h2 { (t(lang, T::AddAlias)) }
                input type="hidden" name="csrf" value=(chrome.csrf);
                label { (t(lang, T::AliasName)) input type="text" name="alias" placeholder="alias/my-key"; }
                button type="submit" #key-alias-ok { (t(lang, T::AddAlias)) }
            }
        }
        section.card {
            h2 { (t(lang, T::Versions)) }
            table #key-versions {
                thead { tr { th { (t(lang, T::VersionId)) } th { (t(lang, T::Created)) } } }
                tbody {
                    @for (id, created) in &key.versions {
                        tr { td { code { (id) } @if *id == key.primary_version { " · " (t(lang, T::PrimaryVersion)) } } td { (created) } }
                    }
                }
            }
        }
    }
}

/// A policy document the validator refused: its lines, numbered, with the one the refusal names marked.
#[derive(Debug, Clone, Default)]
pub struct RefusedPolicy {
    /// The name typed.
    pub name: String,
    /// The document typed.
    pub document: String,
    /// The refusal.
    pub problem: String,
    /// The line it names (1-based).
    pub line: Option<usize>,
}

/// Access control: the account's users and policies.
pub fn ram(
    chrome: &Chrome<'_>,
    users: &[(String, String)],
    policies: &[(String, String)],
    problem: Option<&str>,
    refused: Option<&RefusedPolicy>,
) -> Markup {
    let lang = chrome.lang;
    let document = refused.map_or(
        "{\n  \"Version\": \"1\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": [\"oss:Get*\", \"oss:List*\"],\n      \"Resource\": \"*\"\n    }\n  ]\n}\n",
        |r| r.document.as_str(),
    );
    html! {
        section.card {
            h1 { (t(lang, T::Ram)) }
            @if let Some(problem) = problem { p.error role="alert" #ram-error { (problem) } }
            h2 { (t(lang, T::Users)) }
            form.inline-form method="post" action="/ram/users" #create-user-form {
                input type="hidden" name="csrf" value=(chrome.csrf);
                input type="text" name="name" placeholder=(t(lang, T::UserName)) required maxlength="64";
                button.primary type="submit" #create-user { (t(lang, T::CreateUser)) }
            }
            table #user-list {
                thead { tr { th { (t(lang, T::UserName)) } th { (t(lang, T::Created)) } th { (t(lang, T::Actions)) } } }
                tbody {
                    @for (name, created) in users {
                        tr data-user=(name) {
                            td { (name) } td { (created) }
                            td { a href={ "/ram/users/" (url_query(name)) } { (t(lang, T::Details)) } }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (t(lang, T::Policies)) }
            table #policy-list {
                thead { tr { th { (t(lang, T::PolicyName)) } th { (t(lang, T::Created)) } th { (t(lang, T::Actions)) } } }
                tbody {
                    @for (name, created) in policies {
                        tr data-policy=(name) {
                            td { (name) } td { (created) }
                            td {
                                form.inline method="post" action={ "/ram/policies/" (url_query(name)) "/delete" } {
                                    input type="hidden" name="csrf" value=(chrome.csrf);
                                    button type="submit" { (t(lang, T::DeletePolicy)) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { (t(lang, T::CreatePolicy)) }
            @if let Some(refused) = refused {
                p.error role="alert" #policy-error { (refused.problem) }
                @if let Some(line) = refused.line {
                    p.error #policy-error-line { (t(lang, T::AtLine)) " " (line) " " (t(lang, T::LineSuffix)) }
                }
                ol.listing #policy-listing {
                    @for (number, text) in refused.document.lines().enumerate() {
                        li.bad[refused.line == Some(number + 1)] { code { (text) } }
                    }
                }
            }
            form method="post" action="/ram/policies" #create-policy-form {
                input type="hidden" name="csrf" value=(chrome.csrf);
                label { (t(lang, T::PolicyName)) input type="text" name="name" required maxlength="128" value=[refused.map(|r| r.name.as_str())]; }
                label { (t(lang, T::PolicyDocument)) textarea name="document" rows="14" spellcheck="false" { (document) } }
                button.primary type="submit" #create-policy { (t(lang, T::CreatePolicy)) }
            }
        }
    }
}

/// A user's page: access keys, attached policies, and the forms that change them. `new_secret` is the
/// secret of a key created by this very request, shown once.
#[allow(clippy::too_many_arguments)]
pub fn ram_user(
    chrome: &Chrome<'_>,
    user: &str,
    keys: &[(String, String, String)],
    attached: &[String],
    policies: &[String],
    new_key: Option<(&str, &str)>,
    problem: Option<&str>,
) -> Markup {
    let lang = chrome.lang;
    let base = format!("/ram/users/{}", url_query(user));
    html! {
        p.crumbs { a href="/ram" { (t(lang, T::Ram)) } " / " (user) }
        section.card #ram-user {
            h1 { (user) }
            @if let Some(problem) = problem { p.error role="alert" #ram-error { (problem) } }
            @if let Some((id, secret)) = new_key {
                div.secret role="status" #new-key {
                    p { (t(lang, T::SecretOnce)) }
                    p { "AccessKey ID: " code #new-key-id { (id) } }
                    p { "AccessKey Secret: " code #new-key-secret { (secret) } }
                }
            }
            h2 { (t(lang, T::AccessKeys)) }
            form.inline method="post" action={ (base) "/keys" } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                button.primary type="submit" #create-access-key { (t(lang, T::CreateAccessKey)) }
            }
            table #access-keys {
                thead { tr { th { "AccessKey ID" } th { (t(lang, T::Status)) } th { (t(lang, T::Created)) } th { (t(lang, T::Actions)) } } }
                tbody {
                    @for (id, status, created) in keys {
                        tr data-access-key=(id) {
                            td { code { (id) } } td.status { (status) } td { (created) }
                            td.actions {
                                form.inline method="post" action={ (base) "/keys/" (url_query(id)) "/" (if status == "Active" { "disable" } else { "enable" }) } {
                                    input type="hidden" name="csrf" value=(chrome.csrf);
                                    button type="submit" { (t(lang, if status == "Active" { T::Disable } else { T::Enable })) }
                                }
                                form.inline method="post" action={ (base) "/keys/" (url_query(id)) "/delete" } {
                                    input type="hidden" name="csrf" value=(chrome.csrf);
                                    button type="submit" { (t(lang, T::Delete)) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { (t(lang, T::Policies)) }
            table #attached-policies {
                tbody {
                    @for policy in attached {
                        tr data-policy=(policy) {
                            td { (policy) }
                            td {
                                form.inline method="post" action={ (base) "/detach" } {
                                    input type="hidden" name="csrf" value=(chrome.csrf);
                                    input type="hidden" name="policy" value=(policy);
                                    button type="submit" { (t(lang, T::Detach)) }
                                }
                            }
                        }
                    }
                }
            }
            form.inline-form method="post" action={ (base) "/attach" } #attach-form {
                input type="hidden" name="csrf" value=(chrome.csrf);
                select name="policy" {
                    @for policy in policies { option value=(policy) { (policy) } }
                }
                button type="submit" #attach { (t(lang, T::Attach)) }
            }
            form method="post" action={ (base) "/delete" } #delete-user-form {
                input type="hidden" name="csrf" value=(chrome.csrf);
                button type="submit" #delete-user { (t(lang, T::DeleteUser)) }
            }
        }
    }
}

/// A page that only says what went wrong.
pub fn problem(chrome: &Chrome<'_>, message: &str) -> Markup {
    let lang = chrome.lang;
    html! {
        section.card {
            h1 { (t(lang, T::Failed)) }
            p.error role="alert" { (message) }
            p { a href="/" { (t(lang, T::Back)) } }
        }
    }
}

/// `text` encoded for a query value.
pub fn url_query(text: &str) -> String {
    cang_oss::percent::encode_strict(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrome() -> Chrome<'static> {
        Chrome {
            lang: Lang::En,
            access_key_id: Some("LTAI\"<x>"),
            csrf: "tok",
            here: "/",
        }
    }

    #[test]
    fn hostile_keys_render_as_text() {
        let entries = vec![Entry::Object {
            key: "<script>alert(1)</script>\"'\u{202e}txt.exe\u{7}".into(),
            size: 1,
            modified: "now".into(),
            encryption: Encryption::None,
        }];
        let html = page(
            &chrome(),
            "x",
            objects(&chrome(), "bkt", "", &entries, None, None, 8 << 20),
        )
        .into_string();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'\\u{202e}txt.exe\\u{0007}"));
        assert!(html.contains("LTAI&quot;&lt;x&gt;"));
    }

    #[test]
    fn visible_spells_out_invisible_characters() {
        assert_eq!(visible("a\u{200f}b\nc"), "a\\u{200f}b\\u{000a}c");
        assert_eq!(visible("中文 key"), "中文 key");
    }
}
