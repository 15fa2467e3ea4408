//! Access control (RAM) pages: the account's users, their access keys and attached policies, and its custom
//! policies — each change a RAM OpenAPI call as the signed-in user.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::actions::{NO_KMS, kms_refusal};
use crate::kms::KmsFailure;
use crate::pages;
use crate::site::{Pairs, Signed, redirect};
use crate::text::T;
use crate::{Backend, Body};

/// Access control: users and policies (`ListUsers`, `ListPolicies`).
pub(crate) async fn ram_page<B: Backend>(s: &Signed<'_, B>) -> Response<Body> {
    ram_with(s, StatusCode::OK, None, None).await
}

async fn ram_with<B: Backend>(
    s: &Signed<'_, B>,
    status: StatusCode,
    problem: Option<String>,
    refused: Option<pages::RefusedPolicy>,
) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return s.problem(StatusCode::SERVICE_UNAVAILABLE, NO_KMS);
    };
    let mut problems: Vec<String> = problem.into_iter().collect();
    let pairs = |answer: &serde_json::Value, list: &str, item: &str, name: &str| -> Vec<(String, String)> {
        answer[list][item]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|v| {
                        (
                            v[name].as_str().unwrap_or_default().to_owned(),
                            v["CreateDate"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let users = match kms.ram("ListUsers", &[]).await {
        Ok(answer) => pairs(&answer, "Users", "User", "UserName"),
        Err(f) => {
            problems.push(kms_refusal(s.lang, &f));
            Vec::new()
        }
    };
    let policies = match kms.ram("ListPolicies", &[("PolicyType", "Custom")]).await {
        Ok(answer) => pairs(&answer, "Policies", "Policy", "PolicyName"),
        Err(f) => {
            problems.push(kms_refusal(s.lang, &f));
            Vec::new()
        }
    };
    let csrf = s.session.csrf_token();
    let problem = (!problems.is_empty()).then(|| problems.join(" · "));
    s.page(
        status,
        T::Ram,
        pages::ram(
            &s.chrome(&csrf),
            &users,
            &policies,
            problem.as_deref(),
            refused.as_ref(),
        ),
    )
}

fn kms_status(f: &KmsFailure) -> StatusCode {
    if f.is_denied() {
        StatusCode::FORBIDDEN
    } else if f.status.is_client_error() || f.status.is_server_error() {
        f.status
    } else {
        StatusCode::BAD_GATEWAY
    }
}

/// Create user: `CreateUser`, then the user's page.
pub(crate) async fn create_user<B: Backend>(s: &Signed<'_, B>, form: &Pairs) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return s.problem(StatusCode::SERVICE_UNAVAILABLE, NO_KMS);
    };
    let name = form.get("name").unwrap_or_default().trim();
    match kms.ram("CreateUser", &[("UserName", name)]).await {
        Ok(_) => redirect(&format!("/ram/users/{}", pages::url_query(name))),
        Err(f) => ram_with(s, kms_status(&f), Some(kms_refusal(s.lang, &f)), None).await,
    }
}

/// Create policy: `CreatePolicy`; a refused document comes back numbered, the line the refusal names marked.
pub(crate) async fn create_policy<B: Backend>(s: &Signed<'_, B>, form: &Pairs) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return s.problem(StatusCode::SERVICE_UNAVAILABLE, NO_KMS);
    };
    let name = form.get("name").unwrap_or_default().trim();
    let document = form.get("document").unwrap_or_default().replace("\r\n", "\n");
    match kms
        .ram(
            "CreatePolicy",
            &[("PolicyName", name), ("PolicyDocument", &document)],
        )
        .await
    {
        Ok(_) => redirect("/ram"),
        Err(f) => {
            let problem = kms_refusal(s.lang, &f);
            let line = crate::lines::error_line(&document, &f.message);
            let refused = pages::RefusedPolicy {
                name: name.to_owned(),
                document,
                problem,
                line,
            };
            ram_with(s, kms_status(&f), None, Some(refused)).await
        }
    }
}

/// Delete policy: `DeletePolicy`.
pub(crate) async fn delete_policy<B: Backend>(s: &Signed<'_, B>, policy: &str) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return s.problem(StatusCode::SERVICE_UNAVAILABLE, NO_KMS);
    };
    match kms.ram("DeletePolicy", &[("PolicyName", policy)]).await {
        Ok(_) => redirect("/ram"),
        Err(f) => ram_with(s, kms_status(&f), Some(kms_refusal(s.lang, &f)), None).await,
    }
}

/// A user's page.
pub(crate) async fn user_page<B: Backend>(s: &Signed<'_, B>, user: &str) -> Response<Body> {
    user_with(s, user, StatusCode::OK, None, None).await
}

async fn user_with<B: Backend>(
    s: &Signed<'_, B>,
    user: &str,
    status: StatusCode,
    problem: Option<String>,
    new_key: Option<(String, String)>,
) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return s.problem(StatusCode::SERVICE_UNAVAILABLE, NO_KMS);
    };
    if let Err(f) = kms.ram("GetUser", &[("UserName", user)]).await {
        return s.problem(kms_status(&f), &kms_refusal(s.lang, &f));
    }
    let mut problems: Vec<String> = problem.into_iter().collect();
    let keys: Vec<(String, String, String)> = match kms.ram("ListAccessKeys", &[("UserName", user)]).await {
        Ok(answer) => answer["AccessKeys"]["AccessKey"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|k| {
                        let text = |n: &str| k[n].as_str().unwrap_or_default().to_owned();
                        (text("AccessKeyId"), text("Status"), text("CreateDate"))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Err(f) => {
            problems.push(kms_refusal(s.lang, &f));
            Vec::new()
        }
    };
    let names = |answer: &serde_json::Value| -> Vec<String> {
        answer["Policies"]["Policy"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|p| p["PolicyName"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let attached = match kms.ram("ListPoliciesForUser", &[("UserName", user)]).await {
        Ok(answer) => names(&answer),
        Err(f) => {
            problems.push(kms_refusal(s.lang, &f));
            Vec::new()
        }
    };
    let policies = match kms.ram("ListPolicies", &[("PolicyType", "Custom")]).await {
        Ok(answer) => names(&answer)
            .into_iter()
            .filter(|p| !attached.contains(p))
            .collect(),
        Err(f) => {
            problems.push(kms_refusal(s.lang, &f));
            Vec::new()
        }
    };
    let csrf = s.session.csrf_token();
    let problem = (!problems.is_empty()).then(|| problems.join(" · "));
    let new_key = new_key
        .as_ref()
        .map(|(id, secret)| (id.as_str(), secret.as_str()));
    let mut answer = s.page(
        status,
        T::Ram,
        pages::ram_user(
            &s.chrome(&csrf),
            user,
            &keys,
            &attached,
            &policies,
            new_key,
            problem.as_deref(),
        ),
    );
    if new_key.is_some() {
        // The page holds a secret: no cache may keep it (pages are never cached; said again here).
        answer
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    answer
}

/// One change from a user's page: create, enable, disable or delete an access key, attach or detach a
/// policy, delete the user.
pub(crate) async fn user_action<B: Backend>(
    s: &Signed<'_, B>,
    user: &str,
    action: &str,
    form: &Pairs,
) -> Response<Body> {
    let Some(kms) = s.kms() else {
        return s.problem(StatusCode::SERVICE_UNAVAILABLE, NO_KMS);
    };
    let policy = form.get("policy").unwrap_or_default();
    let back = format!("/ram/users/{}", pages::url_query(user));
    let outcome = match action.split('/').collect::<Vec<_>>().as_slice() {
        ["keys"] => match kms.ram("CreateAccessKey", &[("UserName", user)]).await {
            Ok(answer) => {
                let key = &answer["AccessKey"];
                let id = key["AccessKeyId"].as_str().unwrap_or_default().to_owned();
                let secret = key["AccessKeySecret"].as_str().unwrap_or_default().to_owned();
                tracing::info!(target: "cang::console", access_key_id = %s.session.access_key_id, user, created = %id, "access key created");
                return user_with(s, user, StatusCode::OK, None, Some((id, secret))).await;
            }
            Err(f) => Err(f),
        },
        ["keys", id, "enable"] => {
            kms.ram(
                "UpdateAccessKey",
                &[("UserName", user), ("UserAccessKeyId", id), ("Status", "Active")],
            )
            .await
        }
        ["keys", id, "disable"] => {
            kms.ram(
                "UpdateAccessKey",
                &[
                    ("UserName", user),
                    ("UserAccessKeyId", id),
                    ("Status", "Inactive"),
                ],
            )
            .await
        }
        ["keys", id, "delete"] => {
            kms.ram("DeleteAccessKey", &[("UserName", user), ("UserAccessKeyId", id)])
                .await
        }
        ["attach"] => {
            kms.ram(
                "AttachPolicyToUser",
                &[
                    ("UserName", user),
                    ("PolicyName", policy),
                    ("PolicyType", "Custom"),
                ],
            )
            .await
        }
        ["detach"] => {
            kms.ram(
                "DetachPolicyFromUser",
                &[
                    ("UserName", user),
                    ("PolicyName", policy),
                    ("PolicyType", "Custom"),
                ],
            )
            .await
        }
        ["delete"] => match kms.ram("DeleteUser", &[("UserName", user)]).await {
            Ok(_) => return redirect("/ram"),
            Err(f) => Err(f),
        },
        _ => return s.problem(StatusCode::NOT_FOUND, "404"),
    };
    match outcome {
        Ok(_) => redirect(&back),
        Err(f) => user_with(s, user, kms_status(&f), Some(kms_refusal(s.lang, &f)), None).await,
    }
}
