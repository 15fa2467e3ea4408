//! Each page and action of the console and the OSS or KMS calls behind it, made as the signed-in user. A
//! refusal is shown where the user acted, naming the RAM permission the call needed.

use std::net::SocketAddr;

use cang_oss::auth::AccessKeySecret;
use cang_oss::headers::sse::SseRule;
use cang_oss::xml::request::{CompletedPart, bucket_encryption_xml, complete_multipart_upload_xml};
use futures::StreamExt as _;
use http::header::{self, HeaderValue};
use http::{HeaderName, Method, Request, Response, StatusCode};
use serde_json::json;

use crate::client::{Caller, OssFailure, OssRequest, failure_of};
use crate::kms::KmsFailure;
use crate::pages::{self, BucketRow, CreateForm, Encryption, Entry};
use crate::site::{Pairs, Signed, html, json, redirect, session_cookie, set_cookie};
use crate::text::{Lang, T, t};
use crate::{Backend, Body, Console, full_body};

/// Objects per page of the browser.
const PAGE: &str = "100";
/// HEAD requests in flight for one listing page.
const HEADS_IN_FLIGHT: usize = 8;
/// Largest CompleteMultipartUpload request from the page script.
const MAX_COMPLETE: usize = 2 << 20;

/// What a refusal says: the missing permission when it is one, else OSS's code and message.
fn refusal(lang: Lang, failure: &OssFailure, permission: &str) -> String {
    if failure.is_denied() {
        format!(
            "{} {permission}: {}",
            t(lang, T::MissingPermission),
            failure.message
        )
    } else {
        format!("{}: {} {}", t(lang, T::Failed), failure.code, failure.message)
    }
}

pub(crate) fn kms_refusal(lang: Lang, failure: &KmsFailure) -> String {
    if failure.is_denied() {
        format!(
            "{} {}: {}",
            t(lang, T::MissingPermission),
            failure.permission(),
            failure.message
        )
    } else {
        format!("{}: {} {}", t(lang, T::Failed), failure.code, failure.message)
    }
}

fn status_of(failure: &OssFailure) -> StatusCode {
    if failure.status.is_client_error() || failure.status.is_server_error() {
        failure.status
    } else {
        StatusCode::BAD_GATEWAY
    }
}

/// Signs in: the key pair is proven by one signed ListBuckets through the OSS API (refused only for an
/// unknown key or a wrong secret; a user who may not list buckets still signs in).
pub(crate) async fn sign_in<B: Backend>(
    console: &Console<B>,
    lang: Lang,
    form: &Pairs,
    peer: SocketAddr,
    now: u64,
) -> Response<Body> {
    let id = form.get("access_key_id").unwrap_or_default().trim();
    let secret = AccessKeySecret::new(form.get("access_key_secret").unwrap_or_default().trim());
    let wrong = || {
        html(
            StatusCode::UNAUTHORIZED,
            pages::sign_in(lang, Some(t(lang, T::WrongKey))),
        )
    };
    if id.is_empty() || id.len() > 128 || secret.expose().is_empty() {
        return wrong();
    }
    let caller = Caller {
        backend: &console.backend,
        access_key_id: id,
        secret: &secret,
        peer,
    };
    match caller
        .call(OssRequest::service(Method::GET).query("max-keys", Some("1")))
        .await
    {
        Ok(_) => {}
        Err(f) if f.is_denied() => {}
        Err(f) if f.code == "InvalidAccessKeyId" || f.code == "SignatureDoesNotMatch" => return wrong(),
        Err(f) => {
            let message = format!("{}: {} {}", t(lang, T::Failed), f.code, f.message);
            return html(status_of(&f), pages::sign_in(lang, Some(&message)));
        }
    }
    let sealed = console
        .sessions
        .begin(id, now)
        .and_then(|session| console.sessions.seal(&session));
    match sealed {
        Ok(cookie) => {
            tracing::info!(target: "cang::console", access_key_id = id, %peer, "signed in");
            let mut answer = redirect("/");
            set_cookie(
                &mut answer,
                &session_cookie(&cookie, console.config.secure_cookies),
            );
            answer
        }
        Err(_) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::sign_in(lang, Some(t(lang, T::Failed))),
        ),
    }
}

/// A bucket's default encryption (`GetBucketEncryption`).
async fn bucket_encryption<B: Backend>(s: &Signed<'_, B>, bucket: &str) -> Encryption {
    let request = OssRequest::bucket(Method::GET, bucket).query("encryption", None);
    match s.oss().xml(request).await {
        Ok(doc) => {
            let rule = doc.child("ApplyServerSideEncryptionByDefault");
            let text = |name: &str| {
                rule.and_then(|r| r.text(name))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            Encryption::Sse {
                algorithm: text("SSEAlgorithm").unwrap_or_default(),
                key_id: text("KMSMasterKeyID"),
                data: text("KMSDataEncryption"),
            }
        }
        Err(f) if f.code == "NoSuchServerSideEncryptionRule" => Encryption::None,
        Err(f) if f.is_denied() => Encryption::Hidden("oss:GetBucketEncryption".into()),
        Err(f) => Encryption::Hidden(f.code),
    }
}

/// The bucket list, with the create dialog showing `form` again after a refusal.
pub(crate) async fn buckets<B: Backend>(
    s: &Signed<'_, B>,
    status: Option<StatusCode>,
    form: Option<CreateForm>,
) -> Response<Body> {
    let listed = s
        .oss()
        .xml(OssRequest::service(Method::GET).query("max-keys", Some("1000")))
        .await;
    let (found, problem) = match listed {
        Ok(doc) => {
            let found: Vec<(String, String, String)> = doc
                .child("Buckets")
                .map(|b| {
                    b.all("Bucket")
                        .map(|b| {
                            let text = |n: &str| b.text(n).unwrap_or_default().to_owned();
                            let region = b
                                .text("Region")
                                .map(str::to_owned)
                                .unwrap_or_else(|| text("Location"));
                            (text("Name"), region, text("CreationDate"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            (found, None)
        }
        Err(f) => (Vec::new(), Some(refusal(s.lang, &f, "oss:ListBuckets"))),
    };
    let names: Vec<String> = found.iter().map(|(name, _, _)| name.clone()).collect();
    let encryptions: Vec<Encryption> = futures::stream::iter(names)
        .map(|name| async move { bucket_encryption(s, &name).await })
        .buffered(HEADS_IN_FLIGHT)
        .collect()
        .await;
    let rows: Vec<BucketRow> = found
        .into_iter()
        .zip(encryptions)
        .map(|((name, region, created), encryption)| BucketRow {
            name,
            region,
            created,
            encryption,
        })
        .collect();
    let form = form.unwrap_or_default();
    let csrf = s.session.csrf_token();
    let body = pages::buckets(&s.chrome(&csrf), &rows, problem.as_deref(), &form);
    s.page(status.unwrap_or(StatusCode::OK), T::Buckets, body)
}

/// The rule a form's choice stands for (`None`: no default encryption), or what is wrong with it.
fn chosen_rule(form: &Pairs) -> Result<Option<SseRule>, String> {
    let sse = form.get("sse").unwrap_or("none");
    if sse == "none" {
        return Ok(None);
    }
    let kms = sse == "KMS";
    let key = form.get("key").filter(|k| kms && !k.trim().is_empty());
    let data = form.get("data").filter(|d| kms && !d.is_empty());
    SseRule::bucket_default(sse, key, data)
        .map(Some)
        .map_err(|e| format!("{}: {}", e.code().as_str(), e.message_text()))
}

/// A CMK chosen in a form must be one the user may describe (`kms:DescribeKey`, as the guide asks).
async fn check_chosen_key<B: Backend>(s: &Signed<'_, B>, rule: &SseRule) -> Result<(), String> {
    let (Some(key), Some(kms)) = (rule.kms_key_id.as_deref(), s.kms()) else {
        return Ok(());
    };
    kms.describe(key)
        .await
        .map(|_| ())
        .map_err(|f| kms_refusal(s.lang, &f))
}

fn encryption_request(bucket: &str, rule: &SseRule) -> OssRequest {
    OssRequest::bucket(Method::PUT, bucket)
        .query("encryption", None)
        .header(header::CONTENT_TYPE, "application/xml")
        .body(full_body(bucket_encryption_xml(rule)))
}

/// 方式一: Create Bucket with a server-side encryption choice — PutBucket, then PutBucketEncryption; when
/// the second is refused, the new bucket is removed again and the dialog says why.
pub(crate) async fn create_bucket<B: Backend>(s: &Signed<'_, B>, form: &Pairs) -> Response<Body> {
    let name = form.get("name").unwrap_or_default().trim().to_owned();
    let sse = form.get("sse").unwrap_or("none").to_owned();
    let again = |status: StatusCode, problem: String| {
        let form = CreateForm {
            name: name.clone(),
            sse: sse.clone(),
            problem: Some(problem),
        };
        buckets(s, Some(status), Some(form))
    };
    let rule = match chosen_rule(form) {
        Ok(rule) => rule,
        Err(problem) => return again(StatusCode::BAD_REQUEST, problem).await,
    };
    if let Some(rule) = &rule
        && let Err(problem) = check_chosen_key(s, rule).await
    {
        return again(StatusCode::FORBIDDEN, problem).await;
    }
    if let Err(f) = s.oss().call(OssRequest::bucket(Method::PUT, &name)).await {
        return again(status_of(&f), refusal(s.lang, &f, "oss:PutBucket")).await;
    }
    if let Some(rule) = &rule
        && let Err(f) = s.oss().call(encryption_request(&name, rule)).await
    {
        let _ = s.oss().call(OssRequest::bucket(Method::DELETE, &name)).await;
        return again(status_of(&f), refusal(s.lang, &f, "oss:PutBucketEncryption")).await;
    }
    tracing::info!(target: "cang::console", access_key_id = %s.session.access_key_id, bucket = %name, "bucket created");
    redirect(&format!("/b/{}/", pages::url_query(&name)))
}

/// The key picker's choices (`ListKeys`, `ListAliases`, `DescribeKey`), or the permission that is missing.
pub(crate) async fn key_choices<B: Backend>(s: &Signed<'_, B>) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "ServiceUnavailable", "message": "no key service is configured"}),
        );
    };
    match kms.keys().await {
        Ok(keys) => json(
            StatusCode::OK,
            &json!({"keys": keys.iter().map(|k| json!({
                "id": k.id, "aliases": k.aliases, "state": k.state, "spec": k.spec,
            })).collect::<Vec<_>>()}),
        ),
        Err(f) => json(
            if f.is_denied() {
                StatusCode::FORBIDDEN
            } else {
                f.status
            },
            &json!({"error": f.code, "message": kms_refusal(s.lang, &f), "permission": f.permission()}),
        ),
    }
}

/// The account's KMS keys.
pub(crate) async fn keys_page<B: Backend>(s: &Signed<'_, B>) -> Response<Body> {
    keys_with(s, StatusCode::OK, None).await
}

async fn keys_with<B: Backend>(
    s: &Signed<'_, B>,
    status: StatusCode,
    problem: Option<String>,
) -> Response<Body> {
    let csrf = s.session.csrf_token();
    let (keys, listed) = match s.kms() {
        Some(kms) => match kms.keys().await {
            Ok(keys) => (keys, None),
            Err(f) => (Vec::new(), Some(kms_refusal(s.lang, &f))),
        },
        None => (Vec::new(), Some(NO_KMS.to_owned())),
    };
    let problem = problem.or(listed);
    s.page(
        status,
        T::Keys,
        pages::keys(&s.chrome(&csrf), &keys, problem.as_deref()),
    )
}

pub(crate) const NO_KMS: &str = "no key service is configured";

/// A rotation period typed in days, as the OpenAPI's `RotationInterval`.
fn rotation_interval(form: &Pairs) -> Result<String, String> {
    let days: u64 = form
        .get("days")
        .unwrap_or("365")
        .trim()
        .parse()
        .map_err(|_| "the rotation period must be a whole number of days".to_owned())?;
    Ok(format!("{days}d"))
}

/// Create key: `CreateKey` with a description, spec and rotation policy.
pub(crate) async fn create_key<B: Backend>(s: &Signed<'_, B>, form: &Pairs) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return keys_with(s, StatusCode::SERVICE_UNAVAILABLE, None).await;
    };
    let rotation = form.get("rotation") == Some("on");
    let interval = match rotation_interval(form) {
        Ok(interval) => interval,
        Err(problem) => return keys_with(s, StatusCode::BAD_REQUEST, Some(problem)).await,
    };
    let mut params = vec![
        ("Description", form.get("description").unwrap_or_default()),
        ("KeySpec", form.get("spec").unwrap_or("Aliyun_AES_256")),
        ("EnableAutomaticRotation", if rotation { "true" } else { "false" }),
    ];
    if rotation {
        params.push(("RotationInterval", interval.as_str()));
    }
    match kms.call("CreateKey", &params).await {
        Ok(answer) => {
            let id = answer["KeyMetadata"]["KeyId"].as_str().unwrap_or_default();
            tracing::info!(target: "cang::console", access_key_id = %s.session.access_key_id, key_id = id, "key created");
            redirect(&format!("/keys/{}?done=1", pages::url_query(id)))
        }
        Err(f) => {
            let status = if f.is_denied() {
                StatusCode::FORBIDDEN
            } else {
                f.status
            };
            keys_with(s, status, Some(kms_refusal(s.lang, &f))).await
        }
    }
}

/// A key's page.
pub(crate) async fn key_page<B: Backend>(s: &Signed<'_, B>, key_id: &str, done: bool) -> Response<Body> {
    key_with(s, key_id, done, StatusCode::OK, None).await
}

async fn key_with<B: Backend>(
    s: &Signed<'_, B>,
    key_id: &str,
    done: bool,
    status: StatusCode,
    problem: Option<String>,
) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return s.problem(StatusCode::SERVICE_UNAVAILABLE, NO_KMS);
    };
    let described = match kms.describe(key_id).await {
        Ok(described) => described,
        Err(f) => {
            return s.problem(
                if f.is_denied() {
                    StatusCode::FORBIDDEN
                } else {
                    f.status
                },
                &kms_refusal(s.lang, &f),
            );
        }
    };
    let meta = &described["KeyMetadata"];
    let text = |name: &str| meta[name].as_str().unwrap_or_default().to_owned();
    let mut detail = pages::KeyDetail {
        id: text("KeyId"),
        state: text("KeyState"),
        spec: text("KeySpec"),
        description: text("Description"),
        created: text("CreationDate"),
        deletion_date: text("DeleteDate"),
        primary_version: text("PrimaryKeyVersion"),
        rotation: meta["AutomaticRotation"].as_str() == Some("Enabled"),
        rotation_days: meta["RotationInterval"]
            .as_str()
            .and_then(|v| v.strip_suffix('s'))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|secs| secs / 86_400),
        last_rotation: text("LastRotationDate"),
        next_rotation: text("NextRotationDate"),
        ..pages::KeyDetail::default()
    };
    let mut problems: Vec<String> = problem.into_iter().collect();
    match kms
        .call("ListKeyVersions", &[("KeyId", key_id), ("PageSize", "100")])
        .await
    {
        Ok(answer) => {
            detail.versions = answer["KeyVersions"]["KeyVersion"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .map(|v| {
                            (
                                v["KeyVersionId"].as_str().unwrap_or_default().to_owned(),
                                v["CreationDate"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
        Err(f) => problems.push(kms_refusal(s.lang, &f)),
    }
    match kms
        .call("ListAliasesByKeyId", &[("KeyId", key_id), ("PageSize", "100")])
        .await
    {
        Ok(answer) => {
            detail.aliases = answer["Aliases"]["Alias"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .filter_map(|a| a["AliasName"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
        }
        Err(f) => problems.push(kms_refusal(s.lang, &f)),
    }
    let csrf = s.session.csrf_token();
    let problem = (!problems.is_empty()).then(|| problems.join(" · "));
    s.page(
        status,
        T::Keys,
        pages::key(&s.chrome(&csrf), &detail, done, problem.as_deref()),
    )
}

/// One change to a key from its page: enable, disable, schedule or cancel deletion, rotate now, the
/// rotation policy, a new alias.
pub(crate) async fn key_action<B: Backend>(
    s: &Signed<'_, B>,
    key_id: &str,
    action: &str,
    form: &Pairs,
) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return s.problem(StatusCode::SERVICE_UNAVAILABLE, NO_KMS);
    };
    let days = form.get("days").unwrap_or_default().trim().to_owned();
    let interval = rotation_interval(form);
    let rotation = form.get("rotation") == Some("on");
    let alias = form.get("alias").unwrap_or_default().trim().to_owned();
    let outcome = match action {
        "enable" => kms.call("EnableKey", &[("KeyId", key_id)]).await,
        "disable" => kms.call("DisableKey", &[("KeyId", key_id)]).await,
        "cancel-deletion" => kms.call("CancelKeyDeletion", &[("KeyId", key_id)]).await,
        "rotate" => kms.call("CreateKeyVersion", &[("KeyId", key_id)]).await,
        "schedule-deletion" => {
            kms.call(
                "ScheduleKeyDeletion",
                &[("KeyId", key_id), ("PendingWindowInDays", days.as_str())],
            )
            .await
        }
        "rotation-policy" => {
            let interval = match interval {
                Ok(interval) => interval,
                Err(problem) => {
                    return key_with(s, key_id, false, StatusCode::BAD_REQUEST, Some(problem)).await;
                }
            };
            let mut params = vec![
                ("KeyId", key_id),
                ("EnableAutomaticRotation", if rotation { "true" } else { "false" }),
            ];
            if rotation {
                params.push(("RotationInterval", interval.as_str()));
            }
            kms.call("UpdateRotationPolicy", &params).await
        }
        "alias" => {
            kms.call("CreateAlias", &[("KeyId", key_id), ("AliasName", alias.as_str())])
                .await
        }
        _ => return s.problem(StatusCode::NOT_FOUND, "404"),
    };
    match outcome {
        Ok(_) => {
            tracing::info!(target: "cang::console", access_key_id = %s.session.access_key_id, key_id, action, "key changed");
            redirect(&format!("/keys/{}?done=1", pages::url_query(key_id)))
        }
        Err(f) => {
            let status = if f.is_denied() {
                StatusCode::FORBIDDEN
            } else {
                f.status
            };
            key_with(s, key_id, false, status, Some(kms_refusal(s.lang, &f))).await
        }
    }
}

fn url_decoded(text: Option<&str>) -> String {
    text.and_then(cang_oss::percent::decode_path).unwrap_or_default()
}

/// How an object is encrypted, from its HEAD.
async fn object_encryption<B: Backend>(s: &Signed<'_, B>, bucket: &str, key: &str) -> Encryption {
    match s.oss().call(OssRequest::object(Method::HEAD, bucket, key)).await {
        Ok((headers, _)) => {
            let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            match text("x-oss-server-side-encryption") {
                Some(algorithm) => Encryption::Sse {
                    algorithm,
                    key_id: text("x-oss-server-side-encryption-key-id"),
                    data: text("x-oss-server-side-data-encryption"),
                },
                None => Encryption::None,
            }
        }
        Err(f) if f.is_denied() => Encryption::Hidden("oss:GetObject".into()),
        Err(f) => Encryption::Hidden(f.code),
    }
}

/// The object browser: one page of `ListObjects` at a prefix, each object's encryption from its HEAD.
pub(crate) async fn objects<B: Backend>(s: &Signed<'_, B>, bucket: &str, query: &Pairs) -> Response<Body> {
    let prefix = query.get("prefix").unwrap_or_default();
    let mut request = OssRequest::bucket(Method::GET, bucket)
        .query("delimiter", Some("/"))
        .query("encoding-type", Some("url"))
        .query("max-keys", Some(PAGE))
        .query("prefix", Some(prefix));
    if let Some(marker) = query.get("marker") {
        request = request.query("marker", Some(marker));
    }
    let csrf = s.session.csrf_token();
    let doc = match s.oss().xml(request).await {
        Ok(doc) => doc,
        Err(f) => {
            let problem = refusal(s.lang, &f, "oss:ListObjects");
            let body = pages::objects(
                &s.chrome(&csrf),
                bucket,
                prefix,
                &[],
                None,
                Some(&problem),
                s.console.config.part_size,
            );
            return s.page(status_of(&f), T::Objects, body);
        }
    };
    let folders = doc
        .all("CommonPrefixes")
        .map(|p| Entry::Folder(url_decoded(p.text("Prefix"))));
    let listed: Vec<(String, u64, String)> = doc
        .all("Contents")
        .map(|c| {
            (
                url_decoded(c.text("Key")),
                c.text("Size").and_then(|v| v.parse().ok()).unwrap_or(0),
                c.text("LastModified").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let keys: Vec<String> = listed.iter().map(|(key, _, _)| key.clone()).collect();
    let encryptions: Vec<Encryption> = futures::stream::iter(keys)
        .map(|key| async move { object_encryption(s, bucket, &key).await })
        .buffered(HEADS_IN_FLIGHT)
        .collect()
        .await;
    let mut entries: Vec<Entry> = folders.collect();
    entries.extend(
        listed
            .into_iter()
            .zip(encryptions)
            .map(|((key, size, modified), encryption)| Entry::Object {
                key,
                size,
                modified,
                encryption,
            }),
    );
    let next = (doc.text("IsTruncated") == Some("true"))
        .then(|| url_decoded(doc.text("NextMarker")))
        .filter(|m| !m.is_empty());
    let body = pages::objects(
        &s.chrome(&csrf),
        bucket,
        prefix,
        &entries,
        next.as_deref(),
        None,
        s.console.config.part_size,
    );
    s.page(StatusCode::OK, T::Objects, body)
}

/// 方式二: Basic Settings → Server-side encryption.
pub(crate) async fn settings<B: Backend>(s: &Signed<'_, B>, bucket: &str, saved: bool) -> Response<Body> {
    settings_page(s, bucket, saved, StatusCode::OK, None).await
}

async fn settings_page<B: Backend>(
    s: &Signed<'_, B>,
    bucket: &str,
    saved: bool,
    status: StatusCode,
    problem: Option<String>,
) -> Response<Body> {
    let current = bucket_encryption(s, bucket).await;
    let csrf = s.session.csrf_token();
    let body = pages::settings(&s.chrome(&csrf), bucket, &current, saved, problem.as_deref());
    s.page(status, T::BasicSettings, body)
}

/// Set → Save: PutBucketEncryption (DeleteBucketEncryption for None). A refusal changes nothing and says
/// which permission was missing.
pub(crate) async fn set_encryption<B: Backend>(
    s: &Signed<'_, B>,
    bucket: &str,
    form: &Pairs,
) -> Response<Body> {
    let rule = match chosen_rule(form) {
        Ok(rule) => rule,
        Err(problem) => return settings_page(s, bucket, false, StatusCode::BAD_REQUEST, Some(problem)).await,
    };
    let outcome = match &rule {
        Some(rule) => {
            if let Err(problem) = check_chosen_key(s, rule).await {
                return settings_page(s, bucket, false, StatusCode::FORBIDDEN, Some(problem)).await;
            }
            s.oss()
                .call(encryption_request(bucket, rule))
                .await
                .map_err(|f| (refusal(s.lang, &f, "oss:PutBucketEncryption"), status_of(&f)))
        }
        None => s
            .oss()
            .call(OssRequest::bucket(Method::DELETE, bucket).query("encryption", None))
            .await
            .map_err(|f| (refusal(s.lang, &f, "oss:DeleteBucketEncryption"), status_of(&f))),
    };
    match outcome {
        Ok(_) => {
            tracing::info!(target: "cang::console", access_key_id = %s.session.access_key_id, %bucket, "bucket encryption set");
            redirect(&format!("/b/{}/settings?saved=1", pages::url_query(bucket)))
        }
        Err((problem, status)) => settings_page(s, bucket, false, status, Some(problem)).await,
    }
}

/// Download: the object streamed from GetObject as an attachment.
pub(crate) async fn download<B: Backend>(s: &Signed<'_, B>, bucket: &str, key: &str) -> Response<Body> {
    let answer = s.oss().send(OssRequest::object(Method::GET, bucket, key)).await;
    if !answer.status().is_success() {
        let status = answer.status();
        let (parts, body) = answer.into_parts();
        let bytes = crate::read_bounded(body, 64 * 1024).await.unwrap_or_default();
        let failure = failure_of(status, &parts.headers, &bytes);
        return s.problem(status_of(&failure), &refusal(s.lang, &failure, "oss:GetObject"));
    }
    let (parts, body) = answer.into_parts();
    let mut out = Response::new(body);
    for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::ETAG] {
        if let Some(value) = parts.headers.get(&name) {
            out.headers_mut().insert(name, value.clone());
        }
    }
    let file = key.rsplit('/').next().unwrap_or(key);
    let disposition = format!(
        "attachment; filename*=UTF-8''{}",
        cang_oss::percent::encode_strict(file)
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        out.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out.headers_mut().insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    out
}

/// Delete: DeleteObject, then back to the listing.
pub(crate) async fn delete<B: Backend>(s: &Signed<'_, B>, bucket: &str, form: &Pairs) -> Response<Body> {
    let key = form.get("key").unwrap_or_default();
    let prefix = form.get("prefix").unwrap_or_default();
    match s
        .oss()
        .call(OssRequest::object(Method::DELETE, bucket, key))
        .await
    {
        Ok(_) => redirect(&format!(
            "/b/{}/?prefix={}",
            pages::url_query(bucket),
            pages::url_query(prefix)
        )),
        Err(f) => s.problem(status_of(&f), &refusal(s.lang, &f, "oss:DeleteObject")),
    }
}

fn api_failure(lang: Lang, failure: &OssFailure, permission: &str) -> Response<Body> {
    json(
        status_of(failure),
        &json!({"error": failure.code, "message": refusal(lang, failure, permission)}),
    )
}

/// An upload from the page script: PutObject of a whole file, or UploadPart of one part, the body streamed
/// through as it arrives.
pub(crate) async fn upload<B: Backend>(
    s: &Signed<'_, B>,
    bucket: &str,
    key: &str,
    part: Option<(&str, &str)>,
    request: Request<Body>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let Some(length) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
    else {
        return json(
            StatusCode::LENGTH_REQUIRED,
            &json!({"error": "MissingContentLength", "message": "Content-Length is required"}),
        );
    };
    let mut request = OssRequest::object(Method::PUT, bucket, key).header(header::CONTENT_LENGTH, length);
    let permission = match part {
        Some((upload, number)) => {
            request = request
                .query("partNumber", Some(number))
                .query("uploadId", Some(upload));
            "oss:PutObject"
        }
        None => {
            if let Some(kind) = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
            {
                request = request.header(header::CONTENT_TYPE, kind);
            }
            "oss:PutObject"
        }
    };
    match s.oss().call(request.body(body)).await {
        Ok((headers, _)) => {
            let etag = headers
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            json(StatusCode::OK, &json!({"etag": etag}))
        }
        Err(f) => api_failure(s.lang, &f, permission),
    }
}

/// InitiateMultipartUpload for a large file of the page script.
pub(crate) async fn initiate<B: Backend>(s: &Signed<'_, B>, bucket: &str, key: &str) -> Response<Body> {
    let request = OssRequest::object(Method::POST, bucket, key).query("uploads", None);
    match s.oss().xml(request).await {
        Ok(doc) => json(
            StatusCode::OK,
            &json!({"uploadId": doc.text("UploadId").unwrap_or_default()}),
        ),
        Err(f) => api_failure(s.lang, &f, "oss:PutObject"),
    }
}

/// CompleteMultipartUpload from the parts the page script uploaded (`{"parts":[{"partNumber","etag"}]}`).
pub(crate) async fn complete<B: Backend>(
    s: &Signed<'_, B>,
    bucket: &str,
    key: &str,
    upload: &str,
    request: Request<Body>,
) -> Response<Body> {
    let Ok(collected) = crate::read_bounded(request.into_body(), MAX_COMPLETE).await else {
        return json(StatusCode::PAYLOAD_TOO_LARGE, &json!({"error": "EntityTooLarge"}));
    };
    let parsed: serde_json::Value = serde_json::from_slice(&collected).unwrap_or_default();
    let parts: Vec<CompletedPart> = parsed["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| {
                    Some(CompletedPart {
                        part_number: u32::try_from(p["partNumber"].as_u64()?).ok()?,
                        etag: p["etag"].as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let request = OssRequest::object(Method::POST, bucket, key)
        .query("uploadId", Some(upload))
        .header(header::CONTENT_TYPE, "application/xml")
        .body(full_body(complete_multipart_upload_xml(&parts)));
    match s.oss().call(request).await {
        Ok(_) => json(StatusCode::OK, &json!({"done": true})),
        Err(f) => api_failure(s.lang, &f, "oss:PutObject"),
    }
}

/// AbortMultipartUpload of a failed or cancelled browser upload.
pub(crate) async fn abort<B: Backend>(
    s: &Signed<'_, B>,
    bucket: &str,
    key: &str,
    upload: &str,
) -> Response<Body> {
    let request = OssRequest::object(Method::DELETE, bucket, key).query("uploadId", Some(upload));
    match s.oss().call(request).await {
        Ok(_) => json(StatusCode::OK, &json!({"done": true})),
        Err(f) => api_failure(s.lang, &f, "oss:AbortMultipartUpload"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_choice_becomes_a_rule() {
        let rule = |q: &str| chosen_rule(&Pairs::parse(q));
        assert_eq!(rule("sse=none"), Ok(None));
        let aes = rule("sse=AES256&key=ignored")
            .unwrap_or_default()
            .unwrap_or_else(|| panic!());
        assert_eq!(aes.kms_key_id, None);
        let kms = rule("sse=KMS&key=k-1&data=SM4")
            .unwrap_or_default()
            .unwrap_or_else(|| panic!());
        assert_eq!(kms.kms_key_id.as_deref(), Some("k-1"));
        assert!(kms.data_encryption.is_some());
        let default_key = rule("sse=KMS&key=")
            .unwrap_or_default()
            .unwrap_or_else(|| panic!());
        assert_eq!(default_key.kms_key_id, None);
        assert!(rule("sse=DES").is_err());
    }
}
