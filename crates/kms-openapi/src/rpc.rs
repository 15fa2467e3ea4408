//! The RPC signature (HMAC-SHA1, `SignatureVersion` 1.0) of `signature_algorithm='v2'` and the legacy
//! `aliyun-python-sdk-core`: every parameter but `Signature`, from the query and the form body alike,
//! sorted and encoded into `METHOD&%2F&<encoded canonical query>`, keyed by `secret + "&"`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::OpenApiError;
use crate::params::{Params, percent_encode};

/// The common parameters an RPC signature needs besides `Signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcCredentials<'a> {
    /// `AccessKeyId`.
    pub access_key_id: &'a str,
    /// `SignatureNonce`.
    pub nonce: &'a str,
    /// `Timestamp` as sent.
    pub timestamp: &'a str,
    /// `Signature` as sent (base64).
    pub signature: &'a str,
}

/// Reads and checks the common signature parameters.
pub fn credentials(params: &Params) -> Result<RpcCredentials<'_>, OpenApiError> {
    let need = |name: &str| {
        params.optional(name)?.ok_or(OpenApiError::IncompleteSignature(
            "AccessKeyId, Signature, SignatureNonce and Timestamp are required.",
        ))
    };
    if params.optional("SignatureMethod")? != Some("HMAC-SHA1") {
        return Err(OpenApiError::IncompleteSignature(
            "SignatureMethod must be HMAC-SHA1.",
        ));
    }
    if params.optional("SignatureVersion")? != Some("1.0") {
        return Err(OpenApiError::IncompleteSignature("SignatureVersion must be 1.0."));
    }
    Ok(RpcCredentials {
        access_key_id: need("AccessKeyId")?,
        nonce: need("SignatureNonce")?,
        timestamp: params
            .optional("Timestamp")?
            .ok_or(OpenApiError::IllegalTimestamp)?,
        signature: need("Signature")?,
    })
}

/// `METHOD&%2F&percentEncode(canonicalized query)` over every parameter except `Signature`.
pub fn string_to_sign(method: &str, params: &Params) -> String {
    let mut pairs: Vec<(String, String)> = params
        .all()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    let canonical: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{method}&%2F&{}", percent_encode(&canonical.join("&")))
}

/// Base64 of HMAC-SHA1 under `secret + "&"`.
pub fn sign(secret: &[u8], string_to_sign: &str) -> Result<String, OpenApiError> {
    let mut key = zeroize::Zeroizing::new(secret.to_vec());
    key.push(b'&');
    let mut mac =
        <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&key).map_err(|_| OpenApiError::Internal)?;
    mac.update(string_to_sign.as_bytes());
    Ok(BASE64.encode(mac.finalize().into_bytes()))
}

/// Verifies the `Signature` of an RPC request.
pub fn verify(
    method: &str,
    params: &Params,
    creds: &RpcCredentials<'_>,
    secret: &[u8],
) -> Result<(), OpenApiError> {
    let expected = sign(secret, &string_to_sign(method, params))?;
    if bool::from(expected.as_bytes().ct_eq(creds.signature.as_bytes())) {
        Ok(())
    } else {
        Err(OpenApiError::SignatureDoesNotMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Pairs;
    use proptest::prelude::*;

    fn query(raw: &str) -> Result<Params, OpenApiError> {
        Ok(Params {
            query: Pairs::parse(raw)?,
            form: Pairs::default(),
        })
    }

    /// The example of KMS's "Signature" page: its signed URL carries `41wk2SSX1GJh7fwnc5eqOfiJPFg=` for
    /// secret `testsecret` (the page's printed string to sign leaves the `&` between pairs unencoded;
    /// the vendor SDKs, and the URL, encode it).
    #[test]
    fn vendor_documentation_vector() -> Result<(), OpenApiError> {
        let params = query(
            "Action=CreateKey&SignatureVersion=1.0&Format=json&Version=2016-01-20&AccessKeyId=testid\
             &SignatureMethod=HMAC-SHA1&Timestamp=2016-03-28T03%3A13%3A08Z",
        )?;
        let sts = string_to_sign("GET", &params);
        assert_eq!(
            sts,
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DCreateKey%26Format%3Djson%26SignatureMethod%3DHMAC-SHA1\
             %26SignatureVersion%3D1.0%26Timestamp%3D2016-03-28T03%253A13%253A08Z%26Version%3D2016-01-20"
        );
        assert_eq!(sign(b"testsecret", &sts)?, "41wk2SSX1GJh7fwnc5eqOfiJPFg=");
        Ok(())
    }

    /// Computed by the legacy `aliyun-python-sdk-core` 2.16.1 composer: an empty `SignatureType`, a
    /// `RegionId`, and values needing escapes (`+/=`, JSON, `*`, `~`, a space), split across query and
    /// body as the SDKs send them.
    #[test]
    fn legacy_sdk_vector_with_escapes_and_a_form_body() -> Result<(), OpenApiError> {
        let params = Params {
            query: Pairs::parse(
                "Action=Decrypt&Version=2016-01-20&Format=JSON&Timestamp=2024-05-01T08%3A00%3A00Z\
                 &SignatureNonce=abc&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&SignatureType=\
                 &AccessKeyId=LTAIEXAMPLEKEY&RegionId=cn-hangzhou&Signature=KS0eYK2yDDqhaaFgf0%2F%2BsZBbuL4%3D",
            )?,
            form: Pairs::parse(
                "CiphertextBlob=AQ%2B%2F%3D&EncryptionContext=%7B%22a+b%22%3A%22c%2Ad%7E%22%7D",
            )?,
        };
        let creds = credentials(&params)?;
        assert_eq!(creds.access_key_id, "LTAIEXAMPLEKEY");
        verify("POST", &params, &creds, b"ExampleSecret123")?;
        assert_eq!(
            verify("GET", &params, &creds, b"ExampleSecret123"),
            Err(OpenApiError::SignatureDoesNotMatch)
        );
        assert_eq!(
            verify("POST", &params, &creds, b"ExampleSecret124"),
            Err(OpenApiError::SignatureDoesNotMatch)
        );
        Ok(())
    }

    /// Computed by `alibabacloud-tea-openapi`'s v2 signer.
    #[test]
    fn tea_v2_vector() -> Result<(), OpenApiError> {
        let params = query(
            "Action=Decrypt&Version=2016-01-20&Format=json&Timestamp=2024-05-01T08%3A00%3A00Z&SignatureNonce=abc\
             &SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=LTAIEXAMPLEKEY&CiphertextBlob=AQ%2B%2F%3D\
             &EncryptionContext=%7B%22a%20b%22%3A%22c%2Ad~%22%7D",
        )?;
        assert_eq!(
            sign(b"ExampleSecret123", &string_to_sign("POST", &params))?,
            "81kk+3S6MLnieMwf2xaWJs2Fe4U="
        );
        Ok(())
    }

    #[test]
    fn common_parameters_are_checked() -> Result<(), OpenApiError> {
        let base = "AccessKeyId=a&SignatureNonce=n&Timestamp=t&Signature=s";
        assert!(
            credentials(&query(&format!(
                "{base}&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0"
            ))?)
            .is_ok()
        );
        for bad in [
            format!("{base}&SignatureMethod=HMAC-SHA256&SignatureVersion=1.0"),
            format!("{base}&SignatureMethod=HMAC-SHA1"),
            "SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=a&Timestamp=t&Signature=s".to_owned(),
        ] {
            assert!(
                matches!(
                    credentials(&query(&bad)?),
                    Err(OpenApiError::IncompleteSignature(_))
                ),
                "{bad}"
            );
        }
        let no_time =
            "SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=a&SignatureNonce=n&Signature=s";
        assert_eq!(credentials(&query(no_time)?), Err(OpenApiError::IllegalTimestamp));
        Ok(())
    }

    proptest! {
        #[test]
        fn a_signature_covers_every_parameter(name in "[A-Za-z]{1,12}", value in ".{0,20}") {
            let params = query("Action=Decrypt&AccessKeyId=a").map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut extended = params.clone();
            extended.form.0.push((name, value));
            prop_assert_ne!(string_to_sign("POST", &params), string_to_sign("POST", &extended));
        }
    }
}
