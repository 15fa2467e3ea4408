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
                span.enc.hidden title=(permission) { (t(lang, T::NotAllowedToRead)) }
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

/// The KMS key list.
pub fn keys(chrome: &Chrome<'_>, keys: &[KeySummary], problem: Option<&str>) -> Markup {
    let lang = chrome.lang;
    html! {
        section.card {
            h1 { (t(lang, T::Keys)) }
            @if let Some(problem) = problem { p.error role="alert" { (problem) } }
            table #key-list {
                thead { tr { th { "KeyId" } th { "Alias" } th { "KeySpec" } th { "KeyState" } th { "Description" } } }
                tbody {
                    @for key in keys {
                        tr data-key-id=(key.id) {
                            td { code { (key.id) } }
                            td { @for alias in &key.aliases { div { (alias) } } }
                            td { (key.spec) }
                            td { (key.state) }
                            td { (key.description) }
                        }
                    }
                }
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
