//! Actions: the action name and its parameters parsed into one typed [`Operation`] before anything is
//! authorised or called, with Alibaba's parameter names, defaults and base64 conventions.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cang_kms_api::{
    AliasName, EncryptionContext, KeyOrigin, KeyRef, KeySpec, MAX_TAGS_PER_KEY, Page, RotationPolicy,
    SecretBytes, Tag, WrappedDataKey, validate_tag_key,
};

use crate::OpenApiError;
use crate::params::Params;

/// The only API version served.
pub const API_VERSION: &str = "2016-01-20";

/// One request of the API, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `CreateKey`.
    CreateKey {
        /// `Description`.
        description: String,
        /// `KeySpec` (default `Aliyun_AES_256`).
        spec: KeySpec,
        /// `Origin` (default `Aliyun_KMS`).
        origin: KeyOrigin,
        /// `EnableAutomaticRotation`, `RotationInterval`.
        rotation: RotationPolicy,
    },
    /// `DescribeKey`.
    DescribeKey(KeyRef),
    /// `ListKeys`.
    ListKeys(Page),
    /// `ListAliases`.
    ListAliases(Page),
    /// `ListAliasesByKeyId`.
    ListAliasesByKeyId(KeyRef, Page),
    /// `CreateAlias`.
    CreateAlias(AliasName, KeyRef),
    /// `UpdateAlias`.
    UpdateAlias(AliasName, KeyRef),
    /// `DeleteAlias`.
    DeleteAlias(AliasName),
    /// `EnableKey`.
    EnableKey(KeyRef),
    /// `DisableKey`.
    DisableKey(KeyRef),
    /// `ScheduleKeyDeletion`.
    ScheduleKeyDeletion(KeyRef, u32),
    /// `CancelKeyDeletion`.
    CancelKeyDeletion(KeyRef),
    /// `GenerateDataKey` (`with_plaintext`) or `GenerateDataKeyWithoutPlaintext`.
    GenerateDataKey {
        /// `KeyId`.
        key: KeyRef,
        /// Data key length in bytes (`NumberOfBytes`, else from `KeySpec`, else 32).
        bytes: u32,
        /// `EncryptionContext`.
        context: EncryptionContext,
        /// Whether the plaintext is returned.
        with_plaintext: bool,
    },
    /// `Encrypt`: `Plaintext` is text, encrypted as its UTF-8 bytes.
    Encrypt(KeyRef, SecretBytes, EncryptionContext),
    /// `Decrypt`.
    Decrypt(WrappedDataKey, EncryptionContext),
    /// `ReEncrypt`.
    ReEncrypt {
        /// `CiphertextBlob`.
        blob: WrappedDataKey,
        /// `SourceEncryptionContext`.
        source_context: EncryptionContext,
        /// `DestinationKeyId`.
        destination: KeyRef,
        /// `DestinationEncryptionContext`.
        destination_context: EncryptionContext,
    },
    /// `GetParametersForImport`.
    GetParametersForImport(KeyRef),
    /// `ImportKeyMaterial`.
    ImportKeyMaterial {
        /// `KeyId`.
        key: KeyRef,
        /// `EncryptedKeyMaterial`, decoded.
        material: Vec<u8>,
        /// `ImportToken`, decoded.
        token: Vec<u8>,
        /// `KeyMaterialExpireUnix` (absent or 0: never).
        expire_unix: Option<i64>,
    },
    /// `DeleteKeyMaterial`.
    DeleteKeyMaterial(KeyRef),
    /// `CreateKeyVersion`.
    CreateKeyVersion(KeyRef),
    /// `ListKeyVersions`.
    ListKeyVersions(KeyRef, Page),
    /// `DescribeKeyVersion`.
    DescribeKeyVersion(KeyRef, String),
    /// `UpdateRotationPolicy`.
    UpdateRotationPolicy(KeyRef, RotationPolicy),
    /// `TagResource`: `Tags` is a JSON array of `{"TagKey", "TagValue"}`.
    TagResource(KeyRef, Vec<Tag>),
    /// `UntagResource`: `TagKeys` is a JSON array of strings.
    UntagResource(KeyRef, Vec<String>),
    /// `ListResourceTags`.
    ListResourceTags(KeyRef),
}

impl Operation {
    /// Parses action `name` with `params`.
    pub fn parse(name: &str, params: &Params) -> Result<Self, OpenApiError> {
        let p = params;
        Ok(match name {
            "CreateKey" => {
                if let Some(usage) = p.optional("KeyUsage")?
                    && usage != "ENCRYPT/DECRYPT"
                {
                    return Err(OpenApiError::invalid("KeyUsage"));
                }
                Self::CreateKey {
                    description: p.optional("Description")?.unwrap_or_default().to_owned(),
                    spec: p
                        .optional("KeySpec")?
                        .map(KeySpec::parse)
                        .transpose()
                        .map_err(|_| OpenApiError::invalid("KeySpec"))?
                        .unwrap_or(KeySpec::Aes256),
                    origin: p
                        .optional("Origin")?
                        .map(KeyOrigin::parse)
                        .transpose()
                        .map_err(|_| OpenApiError::invalid("Origin"))?
                        .unwrap_or(KeyOrigin::AliyunKms),
                    rotation: rotation(p)?,
                }
            }
            "DescribeKey" => Self::DescribeKey(key(p, "KeyId")?),
            "ListKeys" => Self::ListKeys(page(p)?),
            "ListAliases" => Self::ListAliases(page(p)?),
            "ListAliasesByKeyId" => Self::ListAliasesByKeyId(key(p, "KeyId")?, page(p)?),
            "CreateAlias" => Self::CreateAlias(alias(p)?, key(p, "KeyId")?),
            "UpdateAlias" => Self::UpdateAlias(alias(p)?, key(p, "KeyId")?),
            "DeleteAlias" => Self::DeleteAlias(alias(p)?),
            "EnableKey" => Self::EnableKey(key(p, "KeyId")?),
            "DisableKey" => Self::DisableKey(key(p, "KeyId")?),
            "ScheduleKeyDeletion" => {
                Self::ScheduleKeyDeletion(key(p, "KeyId")?, number(p, "PendingWindowInDays", true)?)
            }
            "CancelKeyDeletion" => Self::CancelKeyDeletion(key(p, "KeyId")?),
            "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => Self::GenerateDataKey {
                key: key(p, "KeyId")?,
                bytes: data_key_bytes(p)?,
                context: context(p, "EncryptionContext")?,
                with_plaintext: name == "GenerateDataKey",
            },
            "Encrypt" => Self::Encrypt(
                key(p, "KeyId")?,
                SecretBytes::from(p.required("Plaintext")?.as_bytes().to_vec()),
                context(p, "EncryptionContext")?,
            ),
            "Decrypt" => Self::Decrypt(blob(p)?, context(p, "EncryptionContext")?),
            "ReEncrypt" => {
                if p.optional("SourceKeyId")?.is_some() || p.optional("SourceKeyVersionId")?.is_some() {
                    return Err(OpenApiError::UnsupportedOperation(
                        "ReEncrypt of asymmetric ciphertexts (SourceKeyId) is not supported.",
                    ));
                }
                Self::ReEncrypt {
                    blob: blob(p)?,
                    source_context: context(p, "SourceEncryptionContext")?,
                    destination: key(p, "DestinationKeyId")?,
                    destination_context: context(p, "DestinationEncryptionContext")?,
                }
            }
            "GetParametersForImport" => {
                if p.optional("WrappingAlgorithm")?
                    .is_some_and(|a| a != "RSAES_OAEP_SHA_256")
                {
                    return Err(OpenApiError::InvalidParameter(
                        "The specified parameter \"WrappingAlgorithm\" is not valid: only RSAES_OAEP_SHA_256 is supported."
                            .into(),
                    ));
                }
                if p.optional("WrappingKeySpec")?.is_some_and(|s| s != "RSA_2048") {
                    return Err(OpenApiError::invalid("WrappingKeySpec"));
                }
                Self::GetParametersForImport(key(p, "KeyId")?)
            }
            "ImportKeyMaterial" => Self::ImportKeyMaterial {
                key: key(p, "KeyId")?,
                material: base64_param(p, "EncryptedKeyMaterial")?,
                token: base64_param(p, "ImportToken")?,
                expire_unix: match p.optional("KeyMaterialExpireUnix")? {
                    None => None,
                    Some(v) => match v.parse::<i64>() {
                        Ok(0) => None,
                        Ok(t) if t > 0 => Some(t),
                        _ => return Err(OpenApiError::invalid("KeyMaterialExpireUnix")),
                    },
                },
            },
            "DeleteKeyMaterial" => Self::DeleteKeyMaterial(key(p, "KeyId")?),
            "CreateKeyVersion" => Self::CreateKeyVersion(key(p, "KeyId")?),
            "ListKeyVersions" => Self::ListKeyVersions(key(p, "KeyId")?, page(p)?),
            "DescribeKeyVersion" => {
                Self::DescribeKeyVersion(key(p, "KeyId")?, p.required("KeyVersionId")?.to_owned())
            }
            "UpdateRotationPolicy" => {
                p.required("EnableAutomaticRotation")?;
                Self::UpdateRotationPolicy(key(p, "KeyId")?, rotation(p)?)
            }
            "TagResource" => Self::TagResource(key(p, "KeyId")?, tags(p)?),
            "UntagResource" => Self::UntagResource(key(p, "KeyId")?, tag_keys(p)?),
            "ListResourceTags" => Self::ListResourceTags(key(p, "KeyId")?),
            _ => return Err(OpenApiError::InvalidAction),
        })
    }
}

fn key(p: &Params, name: &str) -> Result<KeyRef, OpenApiError> {
    KeyRef::parse(p.required(name)?).map_err(|_| OpenApiError::invalid(name))
}

/// `Tags`: `[{"TagKey":"k","TagValue":"v"}, …]`, 1–20 of them (a missing value is empty).
fn tags(p: &Params) -> Result<Vec<Tag>, OpenApiError> {
    let bad = || OpenApiError::invalid("Tags");
    let value: serde_json::Value = serde_json::from_str(p.required("Tags")?).map_err(|_| bad())?;
    let pairs = value.as_array().ok_or_else(bad)?;
    if pairs.is_empty() || pairs.len() > MAX_TAGS_PER_KEY {
        return Err(bad());
    }
    pairs
        .iter()
        .map(|pair| {
            let key = pair.get("TagKey").and_then(|k| k.as_str()).ok_or_else(bad)?;
            let value = match pair.get("TagValue") {
                None | Some(serde_json::Value::Null) => "",
                Some(v) => v.as_str().ok_or_else(bad)?,
            };
            Tag::new(key, value).map_err(|_| bad())
        })
        .collect()
}

/// `TagKeys`: a JSON array of strings (`["k", …]`, as the API reference shows) or, as the SDK's
/// documentation describes it, comma-separated keys; 1–20 of them.
fn tag_keys(p: &Params) -> Result<Vec<String>, OpenApiError> {
    let raw = p.required("TagKeys")?;
    let keys: Vec<String> = if raw.trim_start().starts_with('[') {
        serde_json::from_str(raw).map_err(|_| OpenApiError::invalid("TagKeys"))?
    } else {
        raw.split(',').map(|k| k.trim().to_owned()).collect()
    };
    if keys.is_empty() || keys.len() > MAX_TAGS_PER_KEY {
        return Err(OpenApiError::invalid("TagKeys"));
    }
    for k in &keys {
        validate_tag_key(k).map_err(|_| OpenApiError::invalid("TagKeys"))?;
    }
    Ok(keys)
}

fn alias(p: &Params) -> Result<AliasName, OpenApiError> {
    AliasName::new(p.required("AliasName")?).map_err(|_| OpenApiError::invalid("AliasName"))
}

fn number(p: &Params, name: &str, required: bool) -> Result<u32, OpenApiError> {
    let raw = if required {
        Some(p.required(name)?)
    } else {
        p.optional(name)?
    };
    match raw {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| OpenApiError::invalid(name)),
    }
}

fn page(p: &Params) -> Result<Page, OpenApiError> {
    Page::new(number(p, "PageNumber", false)?, number(p, "PageSize", false)?)
        .map_err(|_| OpenApiError::invalid("PageSize"))
}

fn data_key_bytes(p: &Params) -> Result<u32, OpenApiError> {
    let n = number(p, "NumberOfBytes", false)?;
    if n > 0 {
        return number_of_bytes(n);
    }
    match p.optional("KeySpec")? {
        None | Some("AES_256") => Ok(32),
        Some("AES_128") => Ok(16),
        Some(_) => Err(OpenApiError::invalid("KeySpec")),
    }
}

/// A data key length the crypto service issues (1–1024 bytes), or `InvalidParameter`.
pub(crate) fn number_of_bytes(n: u32) -> Result<u32, OpenApiError> {
    cang_kms_api::data_key_len(n).map_err(|_| OpenApiError::invalid("NumberOfBytes"))?;
    Ok(n)
}

/// A JSON object of strings (`{"k":"v"}`); absent is the empty context.
fn context(p: &Params, name: &str) -> Result<EncryptionContext, OpenApiError> {
    let Some(raw) = p.optional(name)? else {
        return Ok(EncryptionContext::default());
    };
    let map: BTreeMap<String, String> = serde_json::from_str(raw).map_err(|_| OpenApiError::invalid(name))?;
    Ok(EncryptionContext(map))
}

fn base64_param(p: &Params, name: &str) -> Result<Vec<u8>, OpenApiError> {
    BASE64
        .decode(p.required(name)?)
        .map_err(|_| OpenApiError::invalid(name))
}

fn blob(p: &Params) -> Result<WrappedDataKey, OpenApiError> {
    Ok(WrappedDataKey(base64_param(p, "CiphertextBlob")?.into()))
}

/// `EnableAutomaticRotation` (`true`/`false`) and `RotationInterval` (`<n>d`, `h`, `m` or `s`).
fn rotation(p: &Params) -> Result<RotationPolicy, OpenApiError> {
    let enabled = match p.optional("EnableAutomaticRotation")? {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(OpenApiError::invalid("EnableAutomaticRotation")),
    };
    let interval = match p.optional("RotationInterval")? {
        None => 0,
        Some(v) => parse_interval(v).ok_or_else(|| OpenApiError::invalid("RotationInterval"))?,
    };
    RotationPolicy::new(enabled, interval).map_err(OpenApiError::from)
}

/// `7d`, `168h`, `10080m`, `604800s` → seconds.
pub fn parse_interval(v: &str) -> Option<u64> {
    let unit = v.chars().last()?;
    let n: u64 = v[..v.len() - unit.len_utf8()].parse().ok()?;
    let scale = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Pairs;
    use proptest::prelude::*;

    fn params(raw: &str) -> Result<Params, OpenApiError> {
        Ok(Params {
            query: Pairs::parse(raw)?,
            form: Pairs::default(),
        })
    }

    #[test]
    fn data_keys_default_to_32_bytes_and_follow_key_spec() -> Result<(), OpenApiError> {
        let bytes = |raw: &str| -> Result<u32, OpenApiError> {
            match Operation::parse("GenerateDataKey", &params(raw)?)? {
                Operation::GenerateDataKey { bytes, .. } => Ok(bytes),
                _ => Err(OpenApiError::Internal),
            }
        };
        assert_eq!(bytes("KeyId=k")?, 32);
        assert_eq!(bytes("KeyId=k&KeySpec=AES_128")?, 16);
        assert_eq!(bytes("KeyId=k&KeySpec=AES_128&NumberOfBytes=64")?, 64);
        assert!(bytes("KeyId=k&NumberOfBytes=1025").is_err());
        assert!(bytes("KeyId=k&KeySpec=AES_512").is_err());
        Ok(())
    }

    #[test]
    fn missing_and_invalid_parameters_name_themselves() -> Result<(), OpenApiError> {
        assert_eq!(
            Operation::parse("Decrypt", &params("")?),
            Err(OpenApiError::MissingParameter("CiphertextBlob".into()))
        );
        assert_eq!(
            Operation::parse("Decrypt", &params("CiphertextBlob=%21%21")?),
            Err(OpenApiError::invalid("CiphertextBlob"))
        );
        assert_eq!(
            Operation::parse(
                "Encrypt",
                &params("KeyId=k&Plaintext=x&EncryptionContext=%5B1%5D")?
            ),
            Err(OpenApiError::invalid("EncryptionContext"))
        );
        assert_eq!(
            Operation::parse("ScheduleKeyDeletion", &params("KeyId=k")?),
            Err(OpenApiError::MissingParameter("PendingWindowInDays".into()))
        );
        assert_eq!(
            Operation::parse("Nope", &params("")?),
            Err(OpenApiError::InvalidAction)
        );
        Ok(())
    }

    #[test]
    fn contexts_and_rotation_parse() -> Result<(), OpenApiError> {
        let op = Operation::parse(
            "Encrypt",
            &params("KeyId=alias%2Fa&Plaintext=hi&EncryptionContext=%7B%22k%22%3A%22v%22%7D")?,
        )?;
        let Operation::Encrypt(KeyRef::Alias(_), text, ctx) = op else {
            return Err(OpenApiError::Internal);
        };
        assert_eq!(text.expose(), b"hi");
        assert_eq!(ctx, EncryptionContext::from([("k", "v")]));
        assert_eq!(parse_interval("7d"), Some(604_800));
        assert_eq!(parse_interval("604800s"), Some(604_800));
        assert_eq!(parse_interval("7"), None);
        assert_eq!(parse_interval(""), None);
        let op = Operation::parse(
            "CreateKey",
            &params("EnableAutomaticRotation=true&RotationInterval=30d")?,
        )?;
        assert!(
            matches!(op, Operation::CreateKey { rotation, .. } if rotation.enabled && rotation.interval_seconds == 30 * 86_400)
        );
        assert!(
            Operation::parse(
                "CreateKey",
                &params("EnableAutomaticRotation=true&RotationInterval=1d")?
            )
            .is_err()
        );
        Ok(())
    }

    fn form(pairs: &[(&str, &str)]) -> Params {
        let raw: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                )
            })
            .collect();
        params(&raw.join("&")).unwrap_or_else(|_| unreachable!("valid test parameters"))
    }

    #[test]
    fn tags_parse_as_alibaba_sends_them() -> Result<(), OpenApiError> {
        let op = Operation::parse(
            "TagResource",
            &form(&[
                ("KeyId", "k"),
                (
                    "Tags",
                    r#"[{"TagKey":"team","TagValue":"storage"},{"TagKey":"empty"}]"#,
                ),
            ]),
        )?;
        let Operation::TagResource(_, tags) = op else {
            return Err(OpenApiError::Internal);
        };
        assert_eq!(
            tags.iter()
                .map(|t| (t.key.as_str(), t.value.as_str()))
                .collect::<Vec<_>>(),
            vec![("team", "storage"), ("empty", "")]
        );
        for keys in [r#"["a","b"]"#, "a,b", " a , b "] {
            let op = Operation::parse("UntagResource", &form(&[("KeyId", "k"), ("TagKeys", keys)]))?;
            assert_eq!(
                op,
                Operation::UntagResource(
                    KeyRef::parse("k").map_err(|_| OpenApiError::Internal)?,
                    vec!["a".into(), "b".into()]
                ),
                "{keys}"
            );
        }
        for bad in [
            "",
            "[]",
            "{}",
            r#"[{"TagValue":"v"}]"#,
            r#"[{"TagKey":1}]"#,
            r#"[{"TagKey":"acs:x","TagValue":"v"}]"#,
            r#"[{"TagKey":"k","TagValue":2}]"#,
        ] {
            assert_eq!(
                Operation::parse("TagResource", &form(&[("KeyId", "k"), ("Tags", bad)])),
                Err(if bad.is_empty() {
                    OpenApiError::MissingParameter("Tags".into())
                } else {
                    OpenApiError::invalid("Tags")
                }),
                "{bad}"
            );
        }
        let many: Vec<String> = (0..21).map(|i| format!(r#"{{"TagKey":"k{i}"}}"#)).collect();
        let many = format!("[{}]", many.join(","));
        assert_eq!(
            Operation::parse("TagResource", &form(&[("KeyId", "k"), ("Tags", &many)])),
            Err(OpenApiError::invalid("Tags"))
        );
        assert_eq!(
            Operation::parse("UntagResource", &form(&[("KeyId", "k"), ("TagKeys", "a,,b")])),
            Err(OpenApiError::invalid("TagKeys"))
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn tag_parameters_never_panic(tags in ".{0,200}", keys in ".{0,200}") {
            let _ = Operation::parse("TagResource", &form(&[("KeyId", "k"), ("Tags", &tags)]));
            let _ = Operation::parse("UntagResource", &form(&[("KeyId", "k"), ("TagKeys", &keys)]));
        }

        #[test]
        fn parsing_any_action_never_panics(
            action in "[A-Za-z]{0,30}",
            raw in "[A-Za-z0-9=&%+._~-]{0,120}",
        ) {
            if let Ok(p) = params(&raw) {
                let _ = Operation::parse(&action, &p);
                for name in ["CreateKey", "Encrypt", "Decrypt", "ReEncrypt", "ImportKeyMaterial", "ListKeys",
                             "UpdateRotationPolicy", "GenerateDataKey", "ScheduleKeyDeletion", "TagResource",
                             "UntagResource", "ListResourceTags"] {
                    let _ = Operation::parse(name, &p);
                }
            }
        }

        #[test]
        fn interval_parsing_never_panics(raw in ".{0,12}") {
            let _ = parse_interval(&raw);
        }
    }
}
