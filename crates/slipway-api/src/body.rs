//! JSON request bodies: [`ApiJson`] and, where a body may be left out,
//! [`optional_json`]. A body is a JSON object of objects and scalars. serde's
//! derives read more than that: a struct from an array, by position, so
//! `["admin", "<password>"]` would log in and `[null]` clear a project's
//! repository. Every body is therefore read as a JSON value first, refused if it
//! is not that shape, and only then deserialised into the request type. No
//! request of this API has a list in it (the OpenAPI tests hold the document to
//! that); one that gets one must revisit [`Shaped`].

use std::fmt;

use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::de::{DeserializeOwned, Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};
use slipway_core::ErrorCode;

use crate::error::ApiError;

/// A JSON body; a wrong content type answers 415, a bad body 400, a big one 413.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(Shaped(value)) = Json::<Shaped>::from_request(request, state).await?;
        read(value).map(Self)
    }
}

/// A body that may be left out: none, only whitespace or `null` is `None`. One
/// that is there is read as [`ApiJson`] reads it; malformed JSON is
/// `INVALID_JSON` whatever it is labelled, a well-formed one not labelled JSON 415.
pub fn optional_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let Json(Shaped(value)) = Json::<Shaped>::from_bytes(body)?;
    if !is_json(headers) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ));
    }
    match value {
        Value::Null => Ok(None),
        value => read(value).map(Some),
    }
}

/// `T` from a body that must be an object. JSON has one kind of number: `2.0` is
/// the integer 2, as JSON Schema and JavaScript read it, so it is accepted where a
/// count is.
fn read<T: DeserializeOwned>(mut value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::new(ErrorCode::InvalidJson, "the body must be a JSON object"));
    }
    whole_numbers(&mut value);
    // Through `Json` again for its messages, which name the field at fault.
    let bytes = serde_json::to_vec(&value).map_err(|err| ApiError::new(ErrorCode::InvalidJson, err.to_string()))?;
    let Json(body) = Json::<T>::from_bytes(&bytes)?;
    Ok(body)
}

/// Turns every float without a fractional part that fits a 64-bit integer into that integer.
fn whole_numbers(value: &mut Value) {
    const TWO_TO_THE_64: f64 = 18_446_744_073_709_551_616.0;
    const TWO_TO_THE_63: f64 = 9_223_372_036_854_775_808.0;
    match value {
        Value::Number(number) => {
            let Some(float) = number.as_f64().filter(|f| number.is_f64() && f.fract() == 0.0) else {
                return;
            };
            // In these ranges `as` is exact for a whole float.
            if (0.0..TWO_TO_THE_64).contains(&float) {
                *number = (float as u64).into();
            } else if (-TWO_TO_THE_63..0.0).contains(&float) {
                *number = (float as i64).into();
            }
        }
        Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// Whether the content type is `application/json` or `application/<something>+json`,
/// as axum's `Json` decides.
fn is_json(headers: &HeaderMap) -> bool {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase());
    essence
        .as_deref()
        .and_then(|essence| essence.split_once('/'))
        .is_some_and(|(kind, subtype)| kind == "application" && (subtype == "json" || subtype.ends_with("+json")))
}

/// A JSON value read as `serde_json::Value` reads it, except for what serde's
/// derives would read differently: a list (a struct by position) and a key twice
/// in one object (refused by the derives; a `Value` keeps the last).
struct Shaped(Value);

impl<'de> Deserialize<'de> for Shaped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShapedVisitor).map(Shaped)
    }
}

struct ShapedVisitor;

impl<'de> Visitor<'de> for ShapedVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object, string, number, boolean or null")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(value.into())
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(value.into())
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value).map(Value::Number).ok_or_else(|| E::custom("not a finite number"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(A::Error::custom("a request body holds no list"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(A::Error::custom(format!("duplicate field `{key}`")));
            }
            let Shaped(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Count {
        n: u64,
        #[serde(default)]
        by: Option<i64>,
    }

    fn labelled(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        headers
    }

    #[test]
    fn bodies_are_objects_and_whole_floats_are_integers() {
        let json = labelled("application/json; charset=utf-8");
        let read = |body: &str| optional_json::<Count>(&json, body.as_bytes());
        assert_eq!(read(r#"{"n": 2.0, "by": -3.0}"#).unwrap(), Some(Count { n: 2, by: Some(-3) }));
        assert_eq!(read(r#"{"n": 1e3}"#).unwrap(), Some(Count { n: 1000, by: None }));
        for none in ["", " \n", "null"] {
            assert_eq!(read(none).unwrap(), None, "{none:?}");
        }
        for bad in [
            "[2]",
            "[2, null]",
            "2",
            r#""n""#,
            r#"{"n": 2.5}"#,
            r#"{"n": [2]}"#,
            r#"{"n": 1e30}"#,
            r#"{"n": 1, "n": 2}"#,
            "{",
        ] {
            assert_eq!(read(bad).unwrap_err().code, ErrorCode::InvalidJson, "{bad}");
        }
        let err = optional_json::<Count>(&labelled("text/plain"), br#"{"n": 1}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnsupportedMediaType);
        assert!(optional_json::<Count>(&labelled("application/problem+json"), br#"{"n": 1}"#).is_ok());
        assert_eq!(optional_json::<Count>(&HeaderMap::new(), b"{").unwrap_err().code, ErrorCode::InvalidJson);
    }
}
